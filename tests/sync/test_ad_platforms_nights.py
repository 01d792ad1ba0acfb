"""Nightly runs of Google Ads, Meta Ads and the CBR's rates through the extract task
against the sandbox: which report days each night reads (the account's own time zone, as
the platform reports it), the lookback that picks up restated costs, and rates landed once
per publication. Expected values come from the sandbox's dataset."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from extract import cbr_rates, google_ads, meta_ads
from extract.connection import SourceConnection
from extract.landing import run_key
from funnelhouse.settings import Paths, SourceConfig
from funnelhouse.tasks import extract_source
from sandbox import Dataset, RunningServer, start_cbr_rates, start_google_ads, start_meta_ads
from sandbox.generator import GOOGLE_ADS_ACCOUNT, META_ADS_ACCOUNT

TOKEN = "ads-nights-token-0b7e1c"
DEVELOPER_TOKEN = "ads-nights-developer-token-5a9d"
START_DATE = date(2026, 1, 1)
GOOGLE = SourceConfig(
    "google_ads", "unused", START_DATE, {"customer_id": "456-123-7890", "lookback_days": 30}
)
META = SourceConfig(
    "meta_ads", "unused", START_DATE, {"account_id": f"act_{META_ADS_ACCOUNT.account_id}"}
)
RATES = SourceConfig("cbr_rates", "unused", date(2025, 12, 15), {"currencies": ["USD", "EUR"]})
NIGHT_1 = datetime(
    2026, 7, 1, tzinfo=UTC
)  # 03:00 Moscow, 02:00 Berlin: the data ends the day before


@pytest.fixture
def served(dataset: Dataset) -> Iterator[dict[str, Any]]:
    """A private copy of the dataset and one server per source over it."""
    data = copy.deepcopy(dataset)
    with (
        start_google_ads(data, token=TOKEN, developer_token=DEVELOPER_TOKEN) as google,
        start_meta_ads(data, token=TOKEN, page_size=500, polls_before_ready=0) as meta,
        start_cbr_rates(data) as rates,
    ):
        yield {"dataset": data, "google_ads": google, "meta_ads": meta, "cbr_rates": rates}


@pytest.fixture(autouse=True)
def unpaced(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (google_ads, meta_ads, cbr_rates):
        monkeypatch.setattr(module, "REQUESTS_PER_SECOND", 10_000)


def _connection(served: dict[str, Any], source: SourceConfig) -> SourceConnection:
    server: RunningServer = served[source.name]
    if source.name == "cbr_rates":
        return SourceConnection(server.url, None)
    extra = {"developer_token": DEVELOPER_TOKEN} if source.name == "google_ads" else {}
    return SourceConnection(server.url, TOKEN, extra)


def _run(served: dict[str, Any], paths: Paths, source: SourceConfig, end: datetime) -> dict:
    run_id = f"scheduled__{end.isoformat()}"
    extract_source(
        source,
        run_id=run_id,
        data_interval_end=end,
        connection=_connection(served, source),
        paths=paths,
    )
    manifest = paths.raw_dir / source.name / "_runs" / f"{run_key(run_id)}.json"
    return json.loads(manifest.read_text())


def _newest(raw_dir: Path, source: str, entity: str, key: str) -> dict[tuple, dict]:
    """The newest landed version of every key, as staging keeps it."""
    glob = str(raw_dir / source / entity / "*" / "*.parquet")
    with duckdb.connect() as con:
        cursor = con.execute(
            f"select * from read_parquet(?) qualify row_number() over "
            f"(partition by {key} order by _extracted_at desc) = 1",
            [glob],
        )
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return {tuple(row[name] for name in key.split(", ")): row for row in rows}


def _served_costs(rows: list[dict[str, Any]]) -> dict[tuple[date, str], Decimal]:
    return {
        (date.fromisoformat(row["Date"]), str(row["CampaignId"])): Decimal(row["Cost"]) / 1_000_000
        for row in rows
    }


def _landed_costs(raw_dir: Path, source: str) -> dict[tuple[date, str], Decimal]:
    newest = _newest(raw_dir, source, "campaign_stats", "account, date, campaign_id")
    return {(day, str(campaign)): row["cost"] for (_, day, campaign), row in newest.items()}


def _landed_rates(raw_dir: Path) -> list[tuple]:
    files = str(raw_dir / "cbr_rates" / "daily_rates" / "*" / "*.parquet")
    with duckdb.connect() as con:
        return con.execute(
            "select rate_date, currency, nominal, value from read_parquet(?)", [files]
        ).fetchall()


def _rates_by_key(landed: list[tuple]) -> dict[tuple[date, str], tuple[int, Decimal]]:
    return {(day, code): (nominal, value) for day, code, nominal, value in landed}


def _served_rates(published: dict[tuple[date, str], dict]) -> dict[tuple[date, str], tuple]:
    return {key: (row["Nominal"], row["Value"]) for key, row in published.items()}


def test_google_ads_rereads_thirty_days_so_a_restated_cost_lands(
    served: dict[str, Any], paths: Paths
) -> None:
    data: Dataset = served["dataset"]
    first = _run(served, paths, GOOGLE, NIGHT_1)
    assert (first["date_from"], first["date_to"]) == ("2026-01-01", "2026-06-30")
    assert (first["currency"], first["time_zone"]) == ("USD", GOOGLE_ADS_ACCOUNT.time_zone)
    assert _landed_costs(paths.raw_dir, "google_ads") == _served_costs(data.google_ads_stats)

    restated = next(row for row in data.google_ads_stats if row["Date"] == "2026-06-05")
    too_old = next(row for row in data.google_ads_stats if row["Date"] == "2026-05-20")
    old_cost = Decimal(too_old["Cost"]) / 1_000_000
    restated["Cost"] += 7_250_000
    too_old["Cost"] += 7_250_000
    second = _run(served, paths, GOOGLE, NIGHT_1 + timedelta(days=1))

    assert (second["date_from"], second["date_to"]) == ("2026-06-02", "2026-07-01")
    costs = _landed_costs(paths.raw_dir, "google_ads")
    key = (date(2026, 6, 5), str(restated["CampaignId"]))
    assert costs[key] == Decimal(restated["Cost"]) / 1_000_000
    assert costs[(date(2026, 5, 20), str(too_old["CampaignId"]))] == old_cost  # a backfill's job


def test_meta_ads_report_days_end_in_the_accounts_own_time_zone(
    served: dict[str, Any], paths: Paths
) -> None:
    """21:30 UTC on July 1 is already July 2 in Moscow but still July 1 in Berlin, the
    account's zone: July 1 is not complete there, so the night reads up to June 30."""
    data: Dataset = served["dataset"]
    end = datetime(2026, 7, 1, 21, 30, tzinfo=UTC)
    first = _run(served, paths, META, end)
    assert (first["date_from"], first["date_to"]) == ("2026-01-01", "2026-06-30")
    assert (first["currency"], first["time_zone"]) == ("EUR", "Europe/Berlin")
    landed = _newest(paths.raw_dir, "meta_ads", "campaign_stats", "account, date, campaign_id")
    assert {row["currency"] for row in landed.values()} == {"EUR"}
    assert _landed_costs(paths.raw_dir, "meta_ads") == _served_costs(data.meta_ads_stats)

    second = _run(served, paths, META, end + timedelta(days=1))
    assert (second["date_from"], second["date_to"]) == ("2026-06-04", "2026-07-01")  # 28 days


def test_rates_land_each_publication_once_and_the_night_rereads_a_week(
    served: dict[str, Any], paths: Paths
) -> None:
    data: Dataset = served["dataset"]
    first = _run(served, paths, RATES, NIGHT_1)
    assert (first["date_from"], first["date_to"]) == ("2025-12-15", "2026-06-30")
    published = {
        (date.fromisoformat(row["Date"]), row["CharCode"]): row
        for row in data.currency_rates
        if row["CharCode"] in ("USD", "EUR")
    }
    # The rate set on June 30 takes effect, and is dated, on July 1: past the first night.
    up_to_june_30 = {key: row for key, row in published.items() if key[0] <= date(2026, 6, 30)}
    landed = _landed_rates(paths.raw_dir)
    assert len(landed) == len(up_to_june_30)  # days without a document repeat no publication
    assert _rates_by_key(landed) == _served_rates(up_to_june_30)

    second = _run(served, paths, RATES, NIGHT_1 + timedelta(days=3))
    assert (second["date_from"], second["date_to"]) == ("2026-06-27", "2026-07-03")
    assert _rates_by_key(_landed_rates(paths.raw_dir)) == _served_rates(published)  # July 1's
