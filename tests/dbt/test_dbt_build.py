"""Builds the dbt project over a small hand-written raw landing and checks the marts.

The raw files are written per `extract.schemas.SCHEMAS` in two extraction runs (the second
re-lands some records with newer versions and restates an ad day), so staging goes
through both its full and its incremental path. Every expected number below is worked
out by hand from the rows in this file.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt.cli.main import dbtRunner

from extract.schemas import SCHEMAS

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

RUN_1_AT = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
RUN_2_AT = datetime(2026, 4, 2, 0, 0, tzinfo=UTC)
RUN_3_AT = datetime(2026, 4, 3, 0, 0, tzinfo=UTC)
WON, LOST = 142, 143  # amoCRM system statuses, the same in every pipeline
ACCOUNT = "playground-ads"


def _demo_pipeline() -> tuple[int, int, int]:
    """A pipeline of the shipped stage_mapping seed, its `new` status and an unmapped one."""
    with (DBT_PROJECT_DIR / "seeds" / "stage_mapping.csv").open(encoding="utf-8") as seed:
        rows = [row for row in csv.DictReader(seed) if row["source"] == "amocrm"]
    new = next(row for row in rows if row["funnel_stage"] == "new")
    pipeline_id = int(new["pipeline_id"])
    mapped = {int(row["status_id"]) for row in rows if int(row["pipeline_id"]) == pipeline_id}
    return pipeline_id, int(new["status_id"]), max(mapped) + 1


PIPELINE, NEW_STATUS, UNMAPPED_STATUS = _demo_pipeline()


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _fields(
    campaign: str | None = None,
    source: str | None = None,
    medium: str | None = None,
    client_type: str | None = None,
) -> list[dict[str, Any]]:
    fields = []
    for field_id, code, value in (
        (1, "UTM_CAMPAIGN", campaign),
        (2, "UTM_SOURCE", source),
        (3, "UTM_MEDIUM", medium),
    ):
        if value is not None:
            fields.append(
                {"field_id": field_id, "field_code": code, "field_name": code, "values": [value]}
            )
    if client_type is not None:
        fields.append(
            {
                "field_id": 9,
                "field_code": None,
                "field_name": "Тип клиента",
                "values": [client_type],
            }
        )
    return fields


def _lead(
    lead_id: int,
    created: str,
    updated: str,
    status_id: int,
    *,
    price: int | None = None,
    closed: str | None = None,
    deleted: bool = False,
    loss_reason_id: int | None = None,
    contact_ids: tuple[int, ...] = (),
    fields: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "price": price,
        "pipeline_id": PIPELINE,
        "status_id": status_id,
        "loss_reason_id": loss_reason_id,
        "created_at": _ts(created),
        "updated_at": _ts(updated),
        "closed_at": _ts(closed) if closed else None,
        "is_deleted": deleted,
        "contacts": [{"contact_id": cid, "is_main": True} for cid in contact_ids],
        "custom_fields": fields or [],
    }


# Lead 1 is new in run 1 and won in run 2; lead 2 is created at 22:30 UTC on 31 March,
# which is 1 April in Moscow; lead 3 is deleted; lead 4 is organic; lead 5 has no tags.
LEADS_RUN_1 = [
    _lead(
        1,
        "2026-03-01T09:00:00",
        "2026-03-01T09:00:00",
        NEW_STATUS,
        price=120_000,
        contact_ids=(11,),
        fields=_fields("5001", "yandex", "cpc", "Дилер"),
    ),
    _lead(
        3,
        "2026-03-10T12:00:00",
        "2026-03-11T12:00:00",
        NEW_STATUS,
        deleted=True,
        contact_ids=(13,),
        fields=_fields("5001", "yandex", "cpc", "Дилер"),
    ),
    _lead(
        4,
        "2026-03-02T10:00:00",
        "2026-03-04T10:00:00",
        WON,
        price=30_000,
        closed="2026-03-04T10:00:00",
        fields=_fields(None, "Google", " organic", "Частный покупатель"),
    ),
    _lead(5, "2026-03-03T08:00:00", "2026-03-03T08:00:00", UNMAPPED_STATUS),
]
LEADS_RUN_2 = [
    _lead(
        1,
        "2026-03-01T09:00:00",
        "2026-03-20T09:00:00",
        WON,
        price=120_000,
        closed="2026-03-20T09:00:00",
        contact_ids=(11,),
        fields=_fields("5001", "yandex", "cpc", "Дилер"),
    ),
    _lead(
        2,
        "2026-03-31T22:30:00",
        "2026-04-01T10:00:00",
        LOST,
        price=80_000,
        closed="2026-04-01T10:00:00",
        loss_reason_id=7,
        contact_ids=(12,),
        fields=_fields(" BRAND campaign ", "yandex", "cpc", "Застройщик"),
    ),
    # an old copy of lead 4 landing late must not replace the newer version from run 1
    _lead(
        4,
        "2026-03-02T10:00:00",
        "2026-03-02T10:00:00",
        NEW_STATUS,
        price=30_000,
        fields=_fields(None, "Google", " organic", "Частный покупатель"),
    ),
]
CONTACTS = [
    {
        "contact_id": 11,
        "created_at": _ts("2026-03-01T09:00:00"),
        "updated_at": _ts("2026-03-01T09:00:00"),
        "is_deleted": False,
        "phones": [{"value": "+7 916 123-45-67", "enum_code": "MOB"}],
    },
    {
        "contact_id": 12,
        "created_at": _ts("2026-03-31T22:30:00"),
        "updated_at": _ts("2026-03-31T22:30:00"),
        "is_deleted": False,
        "phones": [{"value": "12345", "enum_code": "WORK"}],
    },
    {
        "contact_id": 13,
        "created_at": _ts("2026-03-10T12:00:00"),
        "updated_at": _ts("2026-03-10T12:00:00"),
        "is_deleted": False,
        "phones": [{"value": "+7 916 123-45-67", "enum_code": "MOB"}],
    },
]
STATUS_CHANGES_RUN_2 = [
    {
        "event_id": "e1",
        "lead_id": 1,
        "created_at": _ts("2026-03-20T09:00:00"),
        "pipeline_id_before": PIPELINE,
        "status_id_before": NEW_STATUS,
        "pipeline_id_after": PIPELINE,
        "status_id_after": WON,
    },
]
STATUSES = [
    {
        "pipeline_id": PIPELINE,
        "pipeline_name": "Sales",
        "pipeline_sort": 1,
        "status_id": status,
        "status_name": name,
        "status_sort": sort,
        "status_type": 0,
    }
    for status, name, sort in ((NEW_STATUS, "New", 10), (WON, "Won", 142), (LOST, "Lost", 143))
]
LOSS_REASONS = [
    {
        "loss_reason_id": 7,
        "name": "Не дозвонились",  # noqa: RUF001 - the CRM speaks Russian
        "sort": 1,
        "updated_at": _ts("2026-01-01T00:00:00"),
    }
]


def _stat(day: str, campaign_id: int, name: str, cost: str) -> dict[str, Any]:
    return {
        "account": ACCOUNT,
        "date": date.fromisoformat(day),
        "campaign_id": campaign_id,
        "campaign_name": name,
        "impressions": 1000,
        "clicks": 50,
        "cost": Decimal(cost),
        "currency": "RUB",
        "time_zone": "Europe/Moscow",
        "includes_vat": False,
    }


# Campaign 5002 has spend and no lead. Run 2 restates 2 March of campaign 5001.
STATS_RUN_1 = [
    _stat("2026-03-01", 5001, "Brand campaign", "1000.00"),
    _stat("2026-03-02", 5001, "Brand campaign", "2000.00"),
    _stat("2026-03-03", 5002, "Retargeting", "800.00"),
]
STATS_RUN_2 = [
    _stat("2026-03-02", 5001, "Brand campaign", "2500.00"),
    _stat("2026-04-01", 5001, "Brand campaign", "700.00"),
]
STAGED_SPEND = 1000 + 2500 + 800 + 700

PHONES = [  # enriched.phone_numbers as funnelhouse.phones would write it
    ("+7 916 123-45-67", "+79161234567", True, None),
    ("12345", None, False, "invalid_number"),
]


def _land(
    raw_dir: Path,
    source: str,
    entity: str,
    run_key: str,
    extracted_at: datetime,
    rows: list[dict[str, Any]],
) -> None:
    meta = {"_source": source, "_extracted_at": extracted_at, "_run_id": run_key}
    records = [{**row, **meta, "_payload": json.dumps(row, default=str)} for row in rows]
    folder = raw_dir / source / entity / run_key
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(records, schema=SCHEMAS[(source, entity)])
    pq.write_table(table, folder / "part-00001.parquet")


def _land_run_1(raw_dir: Path) -> None:
    _land(raw_dir, "amocrm", "leads", "run1", RUN_1_AT, LEADS_RUN_1)
    _land(raw_dir, "amocrm", "contacts", "run1", RUN_1_AT, CONTACTS)
    _land(raw_dir, "amocrm", "statuses", "run1", RUN_1_AT, STATUSES)
    _land(raw_dir, "amocrm", "loss_reasons", "run1", RUN_1_AT, LOSS_REASONS)
    _land(raw_dir, "yandex_direct", "campaign_stats", "run1", RUN_1_AT, STATS_RUN_1)
    # no status change happened before run 1: its folder stays absent


def _land_run_2(raw_dir: Path, run_key: str, extracted_at: datetime) -> None:
    _land(raw_dir, "amocrm", "leads", run_key, extracted_at, LEADS_RUN_2)
    _land(raw_dir, "amocrm", "contacts", run_key, extracted_at, CONTACTS)
    _land(raw_dir, "amocrm", "status_changes", run_key, extracted_at, STATUS_CHANGES_RUN_2)
    _land(raw_dir, "yandex_direct", "campaign_stats", run_key, extracted_at, STATS_RUN_2)


def _create_phone_table(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema enriched")
        con.execute(
            "create table enriched.phone_numbers (phone_raw varchar primary key, e164 varchar,"
            " is_valid boolean, invalid_reason varchar, default_region varchar,"
            " validated_at timestamptz)"
        )
        con.executemany(
            "insert into enriched.phone_numbers values (?, ?, ?, ?, 'RU', now())", PHONES
        )


class Dbt:
    def __init__(self, work_dir: Path) -> None:
        self.common = [
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work_dir / "target"),
            "--log-path",
            str(work_dir / "logs"),
        ]

    def __call__(self, *args: str) -> None:
        result = dbtRunner().invoke([*args, *self.common])
        failures = [
            f"{node.node.unique_id}: {node.message}"
            for node in getattr(result.result, "results", [])
            if node.status in ("error", "fail")
        ]
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception or failures}"


# Tables whose content a re-run must leave alone; load metadata (_extracted_at, _run_id)
# of re-landed records may change, so staging is compared on its record columns only.
SNAPSHOT_QUERIES = {
    "mart_unit_economics": "select * from marts.mart_unit_economics",
    "int_leads_enriched": "select * from intermediate.int_leads_enriched",
    "int_leads_qualified": "select * from intermediate.int_leads_qualified",
    "int_deals_converted": "select * from intermediate.int_deals_converted",
    "int_stage_events_mapped": "select * from intermediate.int_stage_events_mapped",
    "stg_amocrm__leads": "select * exclude (_extracted_at, _run_id) from staging.stg_amocrm__leads",
    "stg_yandex_direct__campaign_stats": (
        "select * exclude (_extracted_at, _run_id) from staging.stg_yandex_direct__campaign_stats"
    ),
}
Snapshot = dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Build:
    warehouse: Path
    after_second_run: Snapshot
    after_rerun: Snapshot


def _snapshot(warehouse: Path) -> Snapshot:
    with duckdb.connect(str(warehouse)) as con:
        return {
            name: sorted(con.execute(sql).fetchall(), key=repr)
            for name, sql in SNAPSHOT_QUERIES.items()
        }


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """Seeds, then builds after run 1, after run 2, and after run 2 is landed once more."""
    work_dir = tmp_path_factory.mktemp("dbt")
    warehouse, raw_dir = work_dir / "funnelhouse.duckdb", work_dir / "raw"
    env = {"FUNNELHOUSE_WAREHOUSE": str(warehouse), "FUNNELHOUSE_RAW_DIR": str(raw_dir)}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        _create_phone_table(warehouse)
        _land_run_1(raw_dir)
        dbt = Dbt(work_dir)
        dbt("seed")
        dbt("build")  # first run: incremental staging built from scratch
        _land_run_2(raw_dir, "run2", RUN_2_AT)
        dbt("build")  # incremental run, with every data and unit test
        after_second_run = _snapshot(warehouse)
        _land_run_2(raw_dir, "run3", RUN_3_AT)  # a re-run lands the same records again
        dbt("run")
        yield Build(warehouse, after_second_run, _snapshot(warehouse))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse)) as con:
        return con.execute(sql).fetchall()


def _mart_row(build: Build, cohort_month: str, segment: str, channel: str) -> dict[str, Any]:
    with duckdb.connect(str(build.warehouse)) as con:
        cursor = con.execute(
            "select * from marts.mart_unit_economics"
            " where cohort_month = ? and segment = ? and channel = ?",
            [date.fromisoformat(cohort_month), segment, channel],
        )
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1, f"expected one mart row for {cohort_month}/{segment}/{channel}"
    return dict(zip(columns, rows[0], strict=True))


DETAIL_ROWS = "from marts.mart_unit_economics where segment <> 'all' and channel <> 'all'"


def test_mart_spend_reconciles_with_staged_spend(build: Build) -> None:
    (staged,) = _query(
        build.warehouse, "select sum(cost) from staging.stg_yandex_direct__campaign_stats"
    )
    (mart,) = _query(build.warehouse, f"select sum(spend) {DETAIL_ROWS}")
    assert staged == (Decimal(STAGED_SPEND),)
    assert mart[0] == pytest.approx(STAGED_SPEND)


def test_mart_leads_are_the_non_deleted_leads(build: Build) -> None:
    (total,) = _query(build.warehouse, f"select sum(leads) {DETAIL_ROWS}")
    assert total == (4,)  # leads 1, 2, 4 and 5; lead 3 is deleted
    assert _mart_row(build, "2026-03-01", "all", "all")["leads"] == 3
    assert _mart_row(build, "2026-04-01", "all", "all")["leads"] == 1


def test_int_leads_enriched_keeps_every_lead_with_the_agreed_columns(build: Build) -> None:
    rows = _query(
        build.warehouse,
        "select lead_id, source, created_at, cohort_month, segment, channel, campaign_id,"
        " utm_source, utm_medium, utm_campaign, phone_valid, phone_invalid_reason, is_deleted"
        " from intermediate.int_leads_enriched order by lead_id",
    )
    by_id = {row[0]: row for row in rows}
    assert sorted(by_id) == ["amocrm:1", "amocrm:2", "amocrm:3", "amocrm:4", "amocrm:5"]
    assert by_id["amocrm:3"][-1] is True
    # created 22:30 UTC on 31 March: 1 April in Moscow; matched by campaign name
    assert by_id["amocrm:2"][3:7] == (date(2026, 4, 1), "developer", "yandex_direct", "5001")
    assert by_id["amocrm:2"][10:12] == (False, "invalid_number")
    assert by_id["amocrm:1"][10:12] == (True, None)
    assert by_id["amocrm:4"][5] == "organic"
    assert by_id["amocrm:4"][10:12] == (False, "no_phone")
    assert by_id["amocrm:5"][4:6] == ("unknown", "unattributed")


def test_newest_version_of_each_record_wins(build: Build) -> None:
    leads = dict(
        _query(build.warehouse, "select lead_id, status_id from staging.stg_amocrm__leads")
    )
    assert leads == {1: WON, 2: LOST, 3: NEW_STATUS, 4: WON, 5: UNMAPPED_STATUS}
    (restated,) = _query(
        build.warehouse,
        "select cost from staging.stg_yandex_direct__campaign_stats"
        " where date = date '2026-03-02' and campaign_id = 5001",
    )
    assert restated == (Decimal("2500"),)


def test_spend_is_allocated_to_segments_and_to_no_leads(build: Build) -> None:
    expected = {
        # campaign 5001 in March: 1000 + 2500, all to dealer lead 1 (deleted lead 3 takes none)
        ("2026-03-01", "dealer", "yandex_direct"): 3500,
        ("2026-03-01", "no_leads", "yandex_direct"): 800,  # campaign 5002 has no lead
        ("2026-04-01", "developer", "yandex_direct"): 700,
    }
    for (month, segment, channel), spend in expected.items():
        assert _mart_row(build, month, segment, channel)["spend"] == pytest.approx(spend)


def test_won_deals_revenue_and_ratios(build: Build) -> None:
    march = _mart_row(build, "2026-03-01", "all", "all")
    assert (march["won_leads"], march["won_deals"]) == (2, 2)
    assert march["revenue"] == pytest.approx(150_000)
    assert march["cpl"] == pytest.approx(4300 / 3)
    assert march["median_days_to_won"] == pytest.approx((19 + 2) / 2)  # leads 1 and 4
    april = _mart_row(build, "2026-04-01", "all", "all")
    assert april["won_leads"] == 0
    assert april["cac"] is None and april["avg_check"] is None


def test_missing_raw_folder_reads_as_empty(build: Build) -> None:
    # run 1 landed no status_changes; after run 2 the one event is staged
    assert _query(build.warehouse, "select event_id from staging.stg_amocrm__status_changes") == [
        ("e1",)
    ]
    stages = _query(
        build.warehouse,
        "select funnel_stage from intermediate.int_stage_events_mapped"
        " where deal_id = 'amocrm:1' order by entered_at",
    )
    assert stages == [("new",), ("won",)]


def test_rerun_with_the_same_records_changes_nothing(build: Build) -> None:
    assert build.after_rerun == build.after_second_run
