"""The Meta Ads extractor against the sandbox server (an independent implementation of the
wire format): expected numbers come from the generated dataset, never from the client."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from extract_testkit import FakeClock

from extract import meta_ads
from extract.ad_account import AdAccount
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetriesExhaustedError, SourceError
from extract.landing import RawLanding
from extract.schemas import SCHEMAS
from sandbox import Dataset, RunningServer, generate
from sandbox.generator import META_ADS_ACCOUNT, META_ADS_CAMPAIGNS
from sandbox.meta_ads import (
    FIRST_REPORT_RUN_ID,
    THROTTLE_REGAIN_MINUTES,
    TOO_MUCH_DATA,
    start_meta_ads,
)

TOKEN = "EAAB-sandbox-token-for-meta-tests"
ACCOUNT_ID = META_ADS_ACCOUNT.account_id
INSIGHTS_PATH = f"/{meta_ads.API_VERSION}/act_{ACCOUNT_ID}/insights"
MARCH = (date(2026, 3, 1), date(2026, 3, 31))  # 31 days: read directly
FIRST_HALF = (date(2026, 1, 1), date(2026, 6, 30))  # the whole dataset: an async run


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(seed=7, n_leads=120)


@pytest.fixture
def meta(dataset: Dataset) -> Iterator[RunningServer]:
    with start_meta_ads(dataset, token=TOKEN, page_size=7, polls_before_ready=2) as server:
        yield server


def connection(server: RunningServer, token: str = TOKEN) -> SourceConnection:
    return SourceConnection(server.url, token)


def client(server: RunningServer, clock: FakeClock, token: str = TOKEN) -> HttpClient:
    """The production client, its waits landing on `clock` and its pacing on a clock of its
    own (so `clock.sleeps` holds retry, poll and slowdown waits only)."""
    pacing = FakeClock()
    return meta_ads.make_client(
        connection(server, token),
        pacer=Pacer(1000, 1.0, clock=pacing.monotonic, sleep=pacing.sleep),
        sleep=clock.sleep,
    )


def extract(
    server: RunningServer,
    landing: RawLanding,
    clock: FakeClock,
    days: tuple[date, date],
    **options,
) -> dict[str, int]:
    http = client(server, clock)
    account = meta_ads.fetch_account(connection(server), account_id=ACCOUNT_ID, client=http)
    return meta_ads.extract_meta_ads(
        connection(server),
        landing,
        account,
        date_from=days[0],
        date_to=days[1],
        client=http,
        **options,
    )


def expected_rows(dataset: Dataset, days: tuple[date, date]) -> dict[tuple[date, str], dict]:
    return {
        (date.fromisoformat(row["Date"]), str(row["CampaignId"])): row
        for row in dataset.meta_ads_stats
        if days[0].isoformat() <= row["Date"] <= days[1].isoformat()
    }


def landed(landing: RawLanding) -> list[dict]:
    table = pq.read_table(landing.entity_dir(meta_ads.ENTITY))
    assert table.schema.equals(SCHEMAS[("meta_ads", "campaign_stats")])
    return table.to_pylist()


def newest_versions(rows: list[dict]) -> dict[tuple[date, str], dict]:
    """The newest landed version of each day and campaign: what staging reads."""
    ordered = sorted(rows, key=lambda row: row["_extracted_at"])
    return {(row["date"], row["campaign_id"]): row for row in ordered}


def assert_versions_match(
    by_key: dict[tuple[date, str], dict], dataset: Dataset, days: tuple[date, date]
) -> None:
    """Every dataset row of the range, its numbers exact, the account's currency and time
    zone beside it."""
    expected = expected_rows(dataset, days)
    assert by_key.keys() == expected.keys()
    for key, row in by_key.items():
        wire = expected[key]
        assert row["account"] == ACCOUNT_ID
        assert row["campaign_name"] == wire["CampaignName"]
        assert (row["impressions"], row["clicks"]) == (wire["Impressions"], wire["Clicks"])
        assert row["cost"] * 1_000_000 == wire["Cost"]
        assert (row["currency"], row["time_zone"]) == ("EUR", META_ADS_ACCOUNT.time_zone)
    total_micros = sum(wire["Cost"] for wire in expected.values())
    assert sum(row["cost"] for row in by_key.values()) == Decimal(total_micros) / 1_000_000


def assert_lands_exactly(landing: RawLanding, dataset: Dataset, days: tuple[date, date]) -> None:
    """Every dataset row of the range once and nothing else (see `assert_versions_match`)."""
    rows = landed(landing)
    assert len(rows) == len(expected_rows(dataset, days))
    assert_versions_match(newest_versions(rows), dataset, days)
    assert landing.quarantined == {}


def test_account_is_described_by_the_api(meta: RunningServer, clock: FakeClock):
    for given in (ACCOUNT_ID, f"act_{ACCOUNT_ID}"):
        account = meta_ads.fetch_account(
            connection(meta), account_id=given, client=client(meta, clock)
        )
        assert account == AdAccount(ACCOUNT_ID, "EUR", META_ADS_ACCOUNT.time_zone)


def test_a_month_is_read_directly_across_many_pages(
    tmp_path: Path, meta: RunningServer, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    counts = extract(meta, landing, clock, MARCH)
    assert counts == {"campaign_stats": len(expected_rows(dataset, MARCH))}
    assert_lands_exactly(landing, dataset, MARCH)
    pages = -(-counts["campaign_stats"] // 7)
    assert meta.request_count == 1 + pages  # the account, then each page once
    assert clock.sleeps == []  # no report run to wait for, usage low


def test_a_range_without_statistics_lands_nothing(
    tmp_path: Path, meta: RunningServer, clock: FakeClock
):
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    assert extract(meta, landing, clock, (date(2030, 1, 1), date(2030, 1, 7))) == {
        "campaign_stats": 0
    }
    assert not landing.entity_dir("campaign_stats").exists()


def test_a_long_range_goes_through_an_async_report_run(
    tmp_path: Path, meta: RunningServer, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    counts = extract(meta, landing, clock, FIRST_HALF, batch_size=100)
    assert counts == {"campaign_stats": len(dataset.meta_ads_stats)}
    assert_lands_exactly(landing, dataset, FIRST_HALF)
    # polled three times (not started, running, completed), backing off in between
    assert clock.sleeps == [1.0, 2.0]
    assert len(list(landing.entity_dir("campaign_stats").glob("part-*.parquet"))) == -(
        -counts["campaign_stats"] // 100
    )


@pytest.mark.parametrize("days", [MARCH, FIRST_HALF], ids=["direct", "report run"])
def test_spend_of_deleted_and_archived_campaigns_lands(
    tmp_path: Path, dataset: Dataset, clock: FakeClock, days: tuple[date, date]
):
    # Meta leaves both out of account insights unless the query asks for their statuses
    deleted, archived = (campaign.id for campaign in META_ADS_CAMPAIGNS)
    statuses = {deleted: "DELETED", archived: "ARCHIVED"}
    with start_meta_ads(dataset, token=TOKEN, page_size=50, campaign_statuses=statuses) as gone:
        landing = RawLanding(tmp_path, "meta_ads", "manual")
        extract(gone, landing, clock, days)
    assert {row["campaign_id"] for row in landed(landing)} == {str(deleted), str(archived)}
    assert_lands_exactly(landing, dataset, days)


def test_a_direct_listing_refused_as_too_much_data_is_read_by_a_report_run(
    tmp_path: Path, meta: RunningServer, dataset: Dataset, clock: FakeClock, caplog
):
    meta.inject(INSIGHTS_PATH, [TOO_MUCH_DATA])  # the first page of the direct listing
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    counts = extract(meta, landing, clock, MARCH)
    assert counts == {"campaign_stats": len(expected_rows(dataset, MARCH))}
    assert_lands_exactly(landing, dataset, MARCH)
    # not retried: the refused request, then a report run submitted and polled three times
    pages = -(-counts["campaign_stats"] // 7)
    assert meta.request_count == 1 + 1 + 1 + 3 + pages
    assert clock.sleeps == [1.0, 2.0]  # the polls' waits, no retry backoff
    assert "reduce the amount of data" in caplog.text


def test_a_refusal_midway_leaves_earlier_batches_superseded_by_the_report_run(
    tmp_path: Path, meta: RunningServer, dataset: Dataset, clock: FakeClock
):
    meta.schedule({3: TOO_MUCH_DATA})  # the account, page 1, then page 2 is refused
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    counts = extract(meta, landing, clock, MARCH, batch_size=7)
    expected = expected_rows(dataset, MARCH)
    assert counts == {"campaign_stats": len(expected)}
    rows = landed(landing)
    assert len(rows) == len(expected) + 7  # page 1's batch was written before the refusal
    newest = newest_versions(rows)
    assert_versions_match(newest, dataset, MARCH)
    superseded = [row for row in rows if row is not newest[(row["date"], row["campaign_id"])]]
    assert len(superseded) == 7
    assert max(row["_extracted_at"] for row in superseded) < min(
        row["_extracted_at"] for row in newest.values()
    )


def test_a_report_run_refused_as_too_much_data_fails_at_once_saying_what_to_do(
    tmp_path: Path, meta: RunningServer, clock: FakeClock
):
    meta.inject(f"/{meta_ads.API_VERSION}/{FIRST_REPORT_RUN_ID}/insights", [TOO_MUCH_DATA])
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    with pytest.raises(meta_ads.MetaTooMuchDataError) as raised:
        extract(meta, landing, clock, FIRST_HALF)
    assert f"account {ACCOUNT_ID}" in str(raised.value)
    assert "shorter ranges" in str(raised.value)
    assert clock.sleeps == [1.0, 2.0]  # the polls only: the refused page is not retried


@pytest.mark.parametrize("code", [17, 80004, 4, 613])
def test_throttling_is_retried_after_the_wait_the_usage_header_announces(
    tmp_path: Path, meta: RunningServer, dataset: Dataset, clock: FakeClock, code: int
):
    meta.inject(INSIGHTS_PATH, [code, code])
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    extract(meta, landing, clock, MARCH)
    assert clock.sleeps == [THROTTLE_REGAIN_MINUTES * 60.0] * 2
    assert_lands_exactly(landing, dataset, MARCH)


def test_throttled_polls_of_a_report_run_are_retried(
    tmp_path: Path, meta: RunningServer, dataset: Dataset, clock: FakeClock
):
    meta.inject(f"/{meta_ads.API_VERSION}/{FIRST_REPORT_RUN_ID}", [80004])
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    extract(meta, landing, clock, FIRST_HALF)
    assert clock.sleeps == [THROTTLE_REGAIN_MINUTES * 60.0, 1.0, 2.0]
    assert_lands_exactly(landing, dataset, FIRST_HALF)


def test_server_errors_are_retried_with_backoff(
    tmp_path: Path, meta: RunningServer, dataset: Dataset, clock: FakeClock
):
    meta.inject(INSIGHTS_PATH, [500, 503])
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    extract(meta, landing, clock, MARCH)
    assert len(clock.sleeps) == 2  # no usage header says when: the policy's backoff
    assert_lands_exactly(landing, dataset, MARCH)


def test_high_usage_slows_every_next_request_down(
    tmp_path: Path, dataset: Dataset, clock: FakeClock
):
    with start_meta_ads(dataset, token=TOKEN, page_size=10, usage_percent=90) as busy:
        landing = RawLanding(tmp_path, "meta_ads", "manual")
        extract(busy, landing, clock, MARCH)
        requests_made = busy.request_count
    # 90 % of the budget: 60 s x (90 - 75) / 25 before each next request
    assert clock.sleeps == pytest.approx([36.0] * requests_made)
    assert_lands_exactly(landing, dataset, MARCH)


def test_a_failed_report_run_fails_naming_account_and_run(
    tmp_path: Path, dataset: Dataset, clock: FakeClock
):
    with start_meta_ads(dataset, token=TOKEN, failing_report_runs=1) as failing:
        landing = RawLanding(tmp_path, "meta_ads", "manual")
        with pytest.raises(SourceError) as raised:
            extract(failing, landing, clock, FIRST_HALF)
    message = str(raised.value)
    assert f"account {ACCOUNT_ID}" in message
    assert f"report run {FIRST_REPORT_RUN_ID}" in message
    assert "ended with 'Job Failed'" in message
    assert not landing.entity_dir("campaign_stats").exists()


def test_waiting_for_a_report_run_is_bounded(tmp_path: Path, dataset: Dataset, clock: FakeClock):
    with start_meta_ads(dataset, token=TOKEN, polls_before_ready=50) as slow:
        landing = RawLanding(tmp_path, "meta_ads", "manual")
        with pytest.raises(SourceError, match=f"report run {FIRST_REPORT_RUN_ID} still"):
            extract(slow, landing, clock, FIRST_HALF, max_wait_seconds=40)
    assert sum(clock.sleeps) <= 40


def test_an_invalid_token_fails_at_once_naming_the_account(meta: RunningServer, clock: FakeClock):
    wrong = "EAAB-a-token-the-sandbox-refuses"
    with pytest.raises(meta_ads.MetaApiError) as raised:
        meta_ads.fetch_account(
            connection(meta, wrong), account_id=ACCOUNT_ID, client=client(meta, clock, wrong)
        )
    assert raised.value.code == 190
    assert f"account {ACCOUNT_ID}" in str(raised.value)
    assert "fbtrace_id A" in str(raised.value)
    assert meta.request_count == 1  # not retried
    assert wrong not in str(raised.value)


def test_an_unimplemented_parameter_fails_at_once_with_meta_error_fields(
    tmp_path: Path, meta: RunningServer, clock: FakeClock
):
    meta.inject(INSIGHTS_PATH, [400])  # Meta's "(#100) Invalid parameter"
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    with pytest.raises(meta_ads.MetaApiError, match=f"account {ACCOUNT_ID}: GET {INSIGHTS_PATH}"):
        extract(meta, landing, clock, MARCH)
    assert clock.sleeps == []


def test_the_token_stays_out_of_logs_errors_and_landed_rows(
    tmp_path: Path, meta: RunningServer, dataset: Dataset, clock: FakeClock, caplog
):
    # the sandbox's next links carry the token, as Meta's do
    first_page = requests.get(
        f"{meta.url}{INSIGHTS_PATH}",
        params=meta_ads.insights_params(*MARCH) | {"access_token": TOKEN},
        timeout=5,
    ).json()
    assert TOKEN in first_page["paging"]["next"]
    caplog.set_level(logging.DEBUG)
    landing = RawLanding(tmp_path, "meta_ads", "manual")
    extract(meta, landing, clock, MARCH)
    meta.inject(INSIGHTS_PATH, [500] * meta_ads.RETRY_POLICY.max_attempts)
    with pytest.raises(RetriesExhaustedError) as exhausted:
        extract(meta, RawLanding(tmp_path, "meta_ads", "second"), clock, MARCH)
    assert "meta_ads" in caplog.text and "page" in caplog.text  # progress was logged
    assert TOKEN not in caplog.text
    assert TOKEN not in str(exhausted.value)
    assert all(TOKEN not in row["_payload"] for row in landed(landing))
