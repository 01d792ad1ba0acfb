"""The quality gate over a real warehouse (the sandbox reference case after one night),
with problems planted in copies of it. Expected values come from the sandbox's truth or
from what each test planted, never from the gate."""

import csv
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pipeline_kit import Pipeline, night_run_id

from expectations import QualityGateFailed, Status
from expectations.gate import CheckResult, latest_recorded_result, run_quality_gate
from expectations.raw import RECORD_KEYS
from expectations.suites import ALL_CHECKS
from expectations.thresholds import DEFAULT_THRESHOLDS, ThresholdsError, load_thresholds
from extract.landing import RawLanding, run_key
from extract.schemas import SCHEMAS
from funnelhouse.settings import PROJECT_ROOT
from sandbox import Dataset
from sandbox.generator import LOSS_REASON_NAMES, LOST_STATUS_ID, NO_BUDGET

Verdicts = dict[tuple[str, str], CheckResult]


def verdicts(rows: list[CheckResult]) -> Verdicts:
    return {(row.check_name, row.scope): row for row in rows}


def gate_failure(pipeline: Pipeline, run_id: str, thresholds: Path | None = None) -> Verdicts:
    """Run the gate expecting a critical failure; its verdicts by (check, scope)."""
    with pytest.raises(QualityGateFailed) as failed:
        run_quality_gate(
            pipeline.paths.warehouse, run_id, raw_dir=pipeline.paths.raw_dir,
            thresholds_path=thresholds,
        )  # fmt: skip
    return verdicts(failed.value.result.rows)


def plant(pipeline: Pipeline, *statements: str) -> None:
    with duckdb.connect(str(pipeline.paths.warehouse)) as con:
        for statement in statements:
            con.execute(statement)


def live_leads(dataset: Dataset) -> list[dict]:
    return [lead for lead in dataset.leads if not lead["is_deleted"]]


def test_reference_night_passes_every_critical_check_and_warns_where_planted(
    reference: Pipeline, dataset: Dataset
) -> None:
    result = latest_recorded_result(reference.paths.warehouse)
    assert result is not None
    assert result.run_id == night_run_id(1)
    rows = verdicts(result.rows)

    assert result.failures == []
    assert {row.check_name for row in result.rows} == {check.name for check in ALL_CHECKS}
    assert [row for row in result.rows if row.observed_value is None] == []
    # The sandbox plants a quarter of invalid phones among private buyers from Yandex ads.
    live = [truth for truth in dataset.truth.values() if not truth.is_deleted]
    planted_valid = sum(t.phone_kind in ("valid", "duplicate") for t in live) / len(live)
    assert rows[("valid_phone_share", "all")].observed_value == pytest.approx(planted_valid)
    assert rows[("valid_phone_share_by_source_channel", "amocrm/yandex_direct")].status == "warn"
    assert rows[("mart_reconciliation", "mart_unit_economics.leads")].details == (
        f"in_mart={float(len(live))}, in_staging={float(len(live))}"
    )
    landed = reference.paths.raw_dir.glob(f"*/*/{run_key(night_run_id(1))}")
    assert {scope for check, scope in rows if check == "raw_schema_drift"} == {
        f"{folder.parent.parent.name}/{folder.parent.name}"
        for folder in landed
        if folder.parent.name != "_quarantine"
    }
    assert rows[("quarantined_records", "all")].observed_value == 0
    assert result.summary().endswith("0 failed; 0 quarantined records")
    docs = result.data_docs.parent
    assert result.data_docs.is_file()
    assert {page.stem for page in (docs / "expectations").glob("*.html")} == {
        "raw",
        "staging",
        "marts",
    }
    assert docs.name == run_key(night_run_id(1))


def test_planted_staging_problems_are_found_and_named(pipeline: Pipeline, dataset: Dataset) -> None:
    lead_ids = sorted(lead["id"] for lead in live_leads(dataset))
    negative, undated, future = lead_ids[:3]
    no_budget = LOSS_REASON_NAMES[NO_BUDGET]
    plant(
        pipeline,
        f"UPDATE staging.stg_amocrm__leads SET price = -5 WHERE lead_id = {negative}",
        f"UPDATE staging.stg_amocrm__leads SET created_at = NULL WHERE lead_id = {undated}",
        "UPDATE staging.stg_amocrm__leads SET created_at = now() + INTERVAL 10 DAY "
        f"WHERE lead_id = {future}",
        # A status the stage mapping lacks, entered by one planted event.
        "INSERT INTO staging.stg_amocrm__status_changes BY NAME "
        "SELECT * REPLACE (event_id || '-planted' AS event_id, 99 AS status_id_after) "
        "FROM staging.stg_amocrm__status_changes ORDER BY event_id LIMIT 1",
        f"DELETE FROM seeds.loss_reason_mapping WHERE crm_reason = '{no_budget}'",
        "DELETE FROM seeds.margin_rates WHERE segment IN ('default', 'private')",
        # A day of cost in a currency without rates, and a campaign no lead came from.
        "UPDATE staging.stg_yandex_direct__campaign_stats SET currency = 'XTS' "
        "WHERE (campaign_id, date) = (SELECT (campaign_id, date) "
        "FROM staging.stg_yandex_direct__campaign_stats ORDER BY ALL LIMIT 1)",
        "INSERT INTO staging.stg_yandex_direct__campaign_stats BY NAME "
        "SELECT * REPLACE (999 AS campaign_id, 'planted' AS campaign_name, 100 AS cost) "
        "FROM staging.stg_yandex_direct__campaign_stats ORDER BY ALL LIMIT 1",
    )
    pipeline.rebuild_intermediate()

    rows = gate_failure(pipeline, night_run_id(1))

    failed = {key for key, row in rows.items() if row.status is Status.FAIL}
    assert ("negative_or_absurd_deal_amounts", "all") in failed
    assert rows[("negative_or_absurd_deal_amounts", "all")].details == (
        f"negative=1, absurd=0, sample=amocrm:{negative}"
    )
    assert ("created_at_not_null", "all") in failed
    assert rows[("created_at_not_null", "all")].details == f"sample=amocrm:{undated}"
    # The marts were built before the planting (only the intermediate models were rebuilt
    # after it): reconciliation catches the mismatch.
    assert ("mart_reconciliation", "mart_unit_economics.spend") in failed

    future_dates = rows[("future_dates", "all")]
    assert (future_dates.status, future_dates.details) == (
        Status.WARN,
        "leads=1, deals=0, stage_events=1, ad_spend=0",  # it entered its first status then
    )
    unmapped = [key for key in rows if key[0] == "unmapped_stage_events"]
    assert len(unmapped) == 2
    assert unmapped[1][1].endswith("/99")
    assert rows[unmapped[1]].observed_value == 1
    assert rows[("unmapped_stage_events", "all")].status is Status.WARN
    planted_no_budget = sum(
        lead["status_id"] == LOST_STATUS_ID and lead["loss_reason_id"] == NO_BUDGET
        for lead in live_leads(dataset)
    )
    assert planted_no_budget > 0
    assert rows[("unmapped_loss_reasons", f"amocrm/{no_budget}")].observed_value == (
        planted_no_budget
    )
    with (PROJECT_ROOT / "dbt_project" / "seeds" / "margin_rates.csv").open() as seed:
        kept_rates = {row["segment"] for row in csv.DictReader(seed)} - {"default", "private"}
    live_segments = {t.segment for t in dataset.truth.values() if not t.is_deleted}
    without_rate = " ".join(sorted(live_segments - kept_rates))
    assert rows[("segments_without_margin_rate", "all")].details == f"segments={without_rate}"
    assert rows[("amounts_without_rate", "all")].details == (
        "deals=0, ad_cost_rows=1, currencies=XTS"
    )
    assert rows[("campaigns_without_leads", "all")].details == (
        "spend=100.0, sample=yandex_direct:999"
    )
    for check in (
        "future_dates",
        "unmapped_loss_reasons",
        "segments_without_margin_rate",
        "amounts_without_rate",
        "campaigns_without_leads",
    ):
        assert rows[(check, "all")].status is Status.WARN, check


def test_planted_mart_problems_fail_the_marts_suite(pipeline: Pipeline) -> None:
    plant(
        pipeline,
        "INSERT INTO marts.mart_unit_economics "
        "SELECT * FROM marts.mart_unit_economics ORDER BY ALL LIMIT 1",
        "UPDATE marts.mart_unit_economics SET spend = -1 "
        "WHERE (cohort_month, segment, channel) = (SELECT (cohort_month, segment, channel) "
        "FROM marts.mart_unit_economics WHERE segment = 'all' ORDER BY ALL LIMIT 1)",
    )

    rows = gate_failure(pipeline, night_run_id(1))

    assert rows[("mart_grain_unique", "mart_unit_economics")].observed_value == 1
    assert rows[("mart_grain_unique", "mart_unit_economics")].status is Status.FAIL
    assert rows[("mart_negative_spend", "all")].observed_value >= 1
    assert rows[("mart_negative_spend", "all")].status is Status.FAIL
    other_marts = [
        row for (check, scope), row in rows.items()
        if check == "mart_grain_unique" and scope != "mart_unit_economics"
    ]  # fmt: skip
    assert all(row.status is Status.PASS for row in other_marts)


def _lead_row(lead_id: int | None, price: object) -> dict[str, object]:
    return {
        "lead_id": lead_id, "price": price, "pipeline_id": 1, "status_id": 2,
        "loss_reason_id": None, "created_at": None, "updated_at": None, "closed_at": None,
        "is_deleted": False, "contacts": [], "custom_fields": [], "_payload": "{}",
    }  # fmt: skip


def test_raw_checks_find_drifted_incomplete_and_repeated_files(pipeline: Pipeline) -> None:
    run_id = "manual__planted"
    landing = RawLanding(pipeline.paths.raw_dir, "amocrm", run_id)
    landing.write_batch("leads", [_lead_row(7, 100), _lead_row(7, 100), _lead_row(8, 5)])
    # A file an older extractor wrote: price as text, a lead without its id.
    older = pa.Table.from_pylist(
        [
            {**_lead_row(None, "100"), "_source": "amocrm", "_run_id": run_id},
            {**_lead_row(9, "5"), "_source": "amocrm", "_run_id": run_id},
        ]
    )
    pq.write_table(older, landing.entity_dir("leads") / "part-00002.parquet")

    rows = gate_failure(pipeline, run_id)

    drift = rows[("raw_schema_drift", "amocrm/leads")]
    assert (drift.status, drift.observed_value) == (Status.FAIL, 1)
    assert drift.details == "files=2, columns=price"
    missing = rows[("raw_required_fields_missing", "amocrm/leads")]
    assert (missing.status, missing.observed_value, missing.details) == (
        Status.FAIL,
        2,  # both rows of the older file lack _extracted_at, one also its lead_id
        "rows=5",
    )
    repeated = rows[("raw_duplicate_ids", "amocrm/leads")]
    assert (repeated.status, repeated.observed_value) == (Status.WARN, 1)
    assert repeated.details == "repeated_ids=1, sample=7"
    assert {scope for check, scope in rows if check.startswith("raw_")} == {"amocrm/leads"}


def test_a_run_that_landed_nothing_fails_the_raw_checks(pipeline: Pipeline) -> None:
    rows = gate_failure(pipeline, "manual__never_extracted")

    for check in ("raw_schema_drift", "raw_required_fields_missing"):
        row = rows[(check, "all")]
        assert (row.status, row.observed_value) == (Status.FAIL, None)
        assert row.details == "problem=no raw file landed for run manual__never_extracted"


def test_a_missing_model_fails_closed_naming_it(pipeline: Pipeline) -> None:
    plant(pipeline, "DROP TABLE intermediate.int_leads_enriched")

    with pytest.raises(QualityGateFailed) as failed:
        run_quality_gate(pipeline.paths.warehouse, night_run_id(1), raw_dir=pipeline.paths.raw_dir)

    rows = verdicts(failed.value.result.rows)
    phones = rows[("valid_phone_share", "all")]
    assert (phones.status, phones.observed_value) == (Status.FAIL, None)
    assert "int_leads_enriched" in phones.details
    assert "valid_phone_share failed: observed nothing" in str(failed.value)


def _edited_thresholds(tmp_path: Path, edit: Callable[[dict], object]) -> Path:
    config = yaml.safe_load(DEFAULT_THRESHOLDS.read_text())
    edit(config["checks"])
    path = tmp_path / "thresholds.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_edited_thresholds_decide_between_failure_and_warning(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    strict = {"threshold": 0.95, "severity": "critical"}
    critical = _edited_thresholds(tmp_path, lambda c: c["valid_phone_share"].update(strict))
    rows = gate_failure(pipeline, night_run_id(1), critical)
    assert rows[("valid_phone_share", "all")].status is Status.FAIL

    warning = _edited_thresholds(
        tmp_path, lambda c: c["valid_phone_share"].update(strict, severity="warning")
    )
    result = run_quality_gate(
        pipeline.paths.warehouse, night_run_id(1), raw_dir=pipeline.paths.raw_dir,
        thresholds_path=warning,
    )  # fmt: skip
    assert verdicts(result.rows)[("valid_phone_share", "all")].status is Status.WARN
    assert verdicts(result.rows)[("valid_phone_share", "all")].threshold == 0.95


def test_rerunning_a_run_replaces_its_rows_and_keeps_other_runs(pipeline: Pipeline) -> None:
    def recorded(run_id: str) -> int:
        with duckdb.connect(str(pipeline.paths.warehouse), read_only=True) as con:
            return con.execute(
                "SELECT count(*) FROM quality.check_results WHERE run_id = ?", [run_id]
            ).fetchone()[0]

    before = recorded(night_run_id(1))
    gate_failure(pipeline, "manual__never_extracted")

    result = run_quality_gate(
        pipeline.paths.warehouse, night_run_id(1), raw_dir=pipeline.paths.raw_dir
    )

    assert recorded(night_run_id(1)) == before == len(result.rows)
    assert recorded("manual__never_extracted") > 0


def test_the_shipped_thresholds_cover_every_check() -> None:
    assert set(load_thresholds()) == {check.name for check in ALL_CHECKS}


def test_every_landed_entity_has_a_record_key_of_its_columns() -> None:
    assert set(RECORD_KEYS) == set(SCHEMAS)
    for entity, key in RECORD_KEYS.items():
        assert set(key) <= set(SCHEMAS[entity].names), entity


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda checks: checks.pop("created_at_not_null"), r"no entry for checks \['created_at"),
        (
            lambda checks: checks["valid_phone_share"].update(severity="blocker"),
            "check valid_phone_share: field severity must be one of",
        ),
        (
            lambda checks: checks["unique_lead_id"].update(treshold=1),
            r"check unique_lead_id: unknown keys \['treshold'\]",
        ),
        (
            lambda checks: checks["future_dates"].pop("tolerance_hours"),
            "check future_dates: field tolerance_hours must be a number, got None",
        ),
        (
            lambda checks: checks.update(made_up={"threshold": 1, "severity": "warning"}),
            r"unknown checks \['made_up'\]",
        ),
    ],
)
def test_a_bad_thresholds_file_is_refused_naming_the_check(
    tmp_path: Path, edit: Callable[[dict], object], error: str
) -> None:
    with pytest.raises(ThresholdsError, match=error):
        load_thresholds(_edited_thresholds(tmp_path, edit))
