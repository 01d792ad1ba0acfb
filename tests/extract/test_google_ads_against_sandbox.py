"""The Google Ads extractor against the sandbox server (an independent implementation of the
searchStream wire format): expected numbers come from the generated dataset, never from the
client."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from extract_testkit import FakeClock

from extract.ad_account import AdAccount
from extract.connection import SourceConnection
from extract.google_ads import ENTITY, extract_google_ads, fetch_account, make_client
from extract.http import HttpClient, SourceAuthError
from extract.landing import RawLanding
from extract.schemas import SCHEMAS
from sandbox import Dataset, Fault, RunningServer, generate
from sandbox.generator import GOOGLE_ADS_ACCOUNT
from sandbox.google_ads import start_google_ads

OAUTH_TOKEN = "ya29.sandbox-oauth-token-for-tests"
DEVELOPER_TOKEN = "sandbox-developer-token-for-tests"
CLIENT_ID = "1234-sandbox-tests.apps.googleusercontent.com"
CLIENT_SECRET = "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sts"
REFRESH_TOKEN = "1//0sandbox-refresh-token-for-tests"
CUSTOMER = GOOGLE_ADS_ACCOUNT.account_id
STREAM_PATH = f"/v26/customers/{CUSTOMER}/googleAds:searchStream"
FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2026, 6, 30)
STREAM_BATCH = 100  # the sandbox's rows per stream batch: several batches per answer
LANDING_BATCH = 128


@pytest.fixture(scope="module")
def generated() -> Dataset:
    return generate(seed=7, n_leads=120)


@pytest.fixture
def dataset(generated: Dataset) -> Dataset:
    """A copy whose statistics rows a test may restate without touching the others."""
    rows = [dict(row) for row in generated.google_ads_stats]
    return dataclasses.replace(generated, google_ads_stats=rows)


@pytest.fixture
def google(dataset: Dataset) -> Iterator[RunningServer]:
    server = start_google_ads(
        dataset,
        token=OAUTH_TOKEN,
        developer_token=DEVELOPER_TOKEN,
        batch_size=STREAM_BATCH,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
    )
    yield server
    server.stop()


def connection(server: RunningServer, token: str = OAUTH_TOKEN, **extra: str) -> SourceConnection:
    return SourceConnection(server.url, token, extra={"developer_token": DEVELOPER_TOKEN, **extra})


def refresh_connection(server: RunningServer, **oauth: str) -> SourceConnection:
    """The deployed shape: no password, the OAuth client and refresh token in extra."""
    extra = {
        "developer_token": DEVELOPER_TOKEN,
        "token_uri": f"{server.url}/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        **oauth,
    }
    return SourceConnection(server.url, None, extra=extra)


def client_for(conn: SourceConnection, clock: FakeClock, login: str | None = None) -> HttpClient:
    """The real client, its retry waits on the fake clock (never a real 30 s wait)."""
    return make_client(conn, login_customer_id=login, sleep=clock.sleep)


def extract(
    conn: SourceConnection,
    landing: RawLanding,
    clock: FakeClock,
    *,
    date_from: date = FIRST_DAY,
    date_to: date = LAST_DAY,
    login: str | None = None,
) -> dict[str, int]:
    client = client_for(conn, clock, login)
    account = fetch_account(conn, customer_id=CUSTOMER, client=client)
    return extract_google_ads(
        conn,
        landing,
        account,
        date_from=date_from,
        date_to=date_to,
        batch_size=LANDING_BATCH,
        client=client,
    )


def landed(landing: RawLanding) -> list[dict]:
    return pq.read_table(landing.entity_dir(ENTITY)).to_pylist()


def micros_total(rows: list[dict]) -> Decimal:
    return sum(Decimal(row["Cost"]) for row in rows) / Decimal(1_000_000)


def test_fetch_account_reads_currency_and_time_zone_from_the_api(
    google: RunningServer, clock: FakeClock
):
    conn = connection(google)
    account = fetch_account(conn, customer_id="456-123-7890", client=client_for(conn, clock))
    assert account == AdAccount(CUSTOMER, "USD", GOOGLE_ADS_ACCOUNT.time_zone)


def test_every_row_of_the_range_lands_once_with_exact_costs(
    tmp_path: Path, google: RunningServer, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "google_ads", "manual")
    counts = extract(connection(google), landing, clock)
    stats = dataset.google_ads_stats
    assert counts == {ENTITY: len(stats)} and len(stats) > 2 * STREAM_BATCH
    assert landing.quarantined == {}
    assert pq.read_table(landing.entity_dir(ENTITY)).schema.equals(SCHEMAS[("google_ads", ENTITY)])
    files = list(landing.entity_dir(ENTITY).glob("part-*.parquet"))
    assert len(files) == -(-len(stats) // LANDING_BATCH)
    rows = landed(landing)
    assert sum(row["cost"] for row in rows) == micros_total(stats)
    assert sum(row["clicks"] for row in rows) == sum(stat["Clicks"] for stat in stats)
    by_key = {(row["date"].isoformat(), row["campaign_id"]): row for row in rows}
    assert len(by_key) == len(rows)
    for stat in stats[::37]:
        row = by_key[(stat["Date"], stat["CampaignId"])]
        assert row["cost"] * 1_000_000 == stat["Cost"]
        assert (row["campaign_name"], row["impressions"]) == (
            stat["CampaignName"],
            stat["Impressions"],
        )
    assert {(r["account"], r["currency"], r["time_zone"]) for r in rows} == {
        (CUSTOMER, "USD", GOOGLE_ADS_ACCOUNT.time_zone)
    }


def test_a_window_lands_only_its_days(
    tmp_path: Path, google: RunningServer, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "google_ads", "manual")
    window = (date(2026, 4, 28), date(2026, 5, 3))
    extract(connection(google), landing, clock, date_from=window[0], date_to=window[1])
    rows = landed(landing)
    inside = [s for s in dataset.google_ads_stats if "2026-04-28" <= s["Date"] <= "2026-05-03"]
    assert {row["date"] for row in rows} == {date(2026, 4, 28 + i) for i in range(3)} | {
        date(2026, 5, day) for day in (1, 2, 3)
    }
    assert sum(row["cost"] for row in rows) == micros_total(inside)


def test_a_quota_error_is_retried_after_its_retry_delay(
    tmp_path: Path, google: RunningServer, dataset: Dataset, clock: FakeClock
):
    google.inject(STREAM_PATH, [429])
    landing = RawLanding(tmp_path, "google_ads", "manual")
    counts = extract(connection(google), landing, clock)
    assert counts == {ENTITY: len(dataset.google_ads_stats)}
    assert clock.sleeps == [30.0]  # the sandbox's retryDelay, "30s"
    assert google.request_count == 3  # the customer query, the 429, the retry


def test_server_errors_are_retried(
    tmp_path: Path, google: RunningServer, dataset: Dataset, clock: FakeClock
):
    google.schedule({2: 500, 3: 503})  # both on the statistics query
    landing = RawLanding(tmp_path, "google_ads", "manual")
    counts = extract(connection(google), landing, clock)
    assert counts == {ENTITY: len(dataset.google_ads_stats)}
    assert len(clock.sleeps) == 2 and google.request_count == 4


def test_a_stream_cut_mid_array_is_fetched_again_without_duplicates(
    tmp_path: Path, google: RunningServer, dataset: Dataset, clock: FakeClock
):
    google.schedule({2: Fault.TRUNCATE})
    landing = RawLanding(tmp_path, "google_ads", "manual")
    counts = extract(connection(google), landing, clock)
    rows = landed(landing)
    keys = {(row["date"], row["campaign_id"]) for row in rows}
    assert counts == {ENTITY: len(dataset.google_ads_stats)} == {ENTITY: len(keys)}
    assert sum(row["cost"] for row in rows) == micros_total(dataset.google_ads_stats)
    assert google.request_count == 3 and len(clock.sleeps) == 1


def test_a_wrong_oauth_token_fails_at_once_with_a_clear_message(
    tmp_path: Path, google: RunningServer, clock: FakeClock
):
    wrong = "ya29.expired-access-token-0001"
    landing = RawLanding(tmp_path, "google_ads", "manual")
    with pytest.raises(SourceAuthError) as raised:
        extract(connection(google, token=wrong), landing, clock)
    message = str(raised.value)
    assert message.startswith(
        f"google_ads: customer {CUSTOMER}: searchStream refused with HTTP 401"
    )
    assert "UNAUTHENTICATED" in message and wrong not in message
    assert google.request_count == 1 and clock.sleeps == []


def test_a_manager_account_is_reached_with_login_customer_id(
    tmp_path: Path, dataset: Dataset, clock: FakeClock
):
    manager = "1112223334"
    with start_google_ads(
        dataset, token=OAUTH_TOKEN, developer_token=DEVELOPER_TOKEN, login_customer_id=manager
    ) as server:
        landing = RawLanding(tmp_path, "google_ads", "manual")
        with pytest.raises(SourceAuthError, match=r"USER_PERMISSION_DENIED.*set login_customer_id"):
            extract(connection(server), landing, clock)
        counts = extract(connection(server), landing, clock, login="111-222-3334")
    assert counts == {ENTITY: len(dataset.google_ads_stats)}


def test_tokens_never_reach_logs_or_messages(
    tmp_path: Path, google: RunningServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    google.inject(STREAM_PATH, [503])
    landing = RawLanding(tmp_path, "google_ads", "manual")
    extract(connection(google), landing, clock)
    with pytest.raises(SourceAuthError) as raised:
        extract(connection(google, developer_token="wrong-developer-token"), landing, clock)
    assert "authenticationError.DEVELOPER_TOKEN_INVALID" in str(raised.value)
    assert "retry 1/" in caplog.text and "campaign_stats: done" in caplog.text
    for secret in (OAUTH_TOKEN, DEVELOPER_TOKEN, "wrong-developer-token"):
        assert secret not in caplog.text and secret not in str(raised.value)


def test_a_window_read_again_lands_the_restated_cost(
    tmp_path: Path, google: RunningServer, dataset: Dataset, clock: FakeClock
):
    stat = next(s for s in dataset.google_ads_stats if s["Date"] == "2026-06-15")
    original = stat["Cost"]
    window = {"date_from": date(2026, 6, 1), "date_to": date(2026, 6, 30)}
    first = RawLanding(tmp_path, "google_ads", "scheduled__2026-07-01")
    extract(connection(google), first, clock, **window)

    def restate() -> None:
        stat["Cost"] = original + 4_560_000  # the platform adds 4.56 USD

    google.on_request(STREAM_PATH, 2, restate)  # before the next statistics query
    second = RawLanding(tmp_path, "google_ads", "scheduled__2026-07-02")
    extract(connection(google), second, clock, **window)

    def cost(landing: RawLanding) -> Decimal:
        key = (date.fromisoformat(stat["Date"]), stat["CampaignId"])
        return next(r["cost"] for r in landed(landing) if (r["date"], r["campaign_id"]) == key)

    assert cost(first) * 1_000_000 == original
    assert cost(second) * 1_000_000 == original + 4_560_000


# --- OAuth refresh-token flow -------------------------------------------------------------


def without_load_metadata(rows: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if not key.startswith("_")} for row in rows]


def test_the_refresh_token_flow_lands_the_same_rows_with_one_token_request(
    tmp_path: Path, google: RunningServer, dataset: Dataset, clock: FakeClock
):
    with_access_token = RawLanding(tmp_path, "google_ads", "access_token")
    extract(connection(google), with_access_token, clock)
    requests_before = google.request_count
    refreshed = RawLanding(tmp_path, "google_ads", "refresh_token")
    counts = extract(refresh_connection(google), refreshed, clock)
    assert counts == {ENTITY: len(dataset.google_ads_stats)}
    assert google.request_count - requests_before == 3  # the token, the customer, the stats
    rows = landed(refreshed)
    assert sum(row["cost"] for row in rows) == micros_total(dataset.google_ads_stats)
    assert without_load_metadata(rows) == without_load_metadata(landed(with_access_token))


def test_the_token_endpoint_is_retried_by_the_shared_client(
    tmp_path: Path, google: RunningServer, dataset: Dataset, clock: FakeClock
):
    google.inject("/token", [503])
    landing = RawLanding(tmp_path, "google_ads", "manual")
    counts = extract(refresh_connection(google), landing, clock)
    assert counts == {ENTITY: len(dataset.google_ads_stats)}
    assert len(clock.sleeps) == 1 and google.request_count == 4


def test_a_revoked_refresh_token_fails_at_once_with_a_clear_message(
    tmp_path: Path, google: RunningServer, clock: FakeClock
):
    revoked = "1//0revoked-refresh-token-0001"
    landing = RawLanding(tmp_path, "google_ads", "manual")
    with pytest.raises(SourceAuthError) as raised:
        extract(refresh_connection(google, refresh_token=revoked), landing, clock)
    message = str(raised.value)
    assert message.startswith(
        f"google_ads: the token endpoint {google.url}/token refused the refresh token "
        "with HTTP 400: invalid_grant (Token has been expired or revoked.); hint: "
    )
    assert "authorize again" in message and raised.value.status == 400
    assert google.request_count == 1 and clock.sleeps == []
    assert not (tmp_path / "google_ads").exists()
    for secret in (revoked, CLIENT_SECRET):
        assert secret not in message


def test_a_wrong_client_secret_is_named_invalid_client(
    tmp_path: Path, google: RunningServer, clock: FakeClock
):
    landing = RawLanding(tmp_path, "google_ads", "manual")
    with pytest.raises(SourceAuthError, match=r"HTTP 401: invalid_client \(Unauthorized\)"):
        extract(refresh_connection(google, client_secret="GOCSPX-not-the-secret"), landing, clock)
    assert google.request_count == 1


def test_oauth_secrets_never_reach_logs_or_messages(
    tmp_path: Path, google: RunningServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    google.inject("/token", [503])
    landing = RawLanding(tmp_path, "google_ads", "manual")
    extract(refresh_connection(google), landing, clock)
    wrong_secret = "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t"
    with pytest.raises(SourceAuthError) as raised:
        extract(refresh_connection(google, client_secret=wrong_secret), landing, clock)
    assert "retry 1/" in caplog.text and "obtained an access token" in caplog.text
    for secret in (REFRESH_TOKEN, CLIENT_SECRET, OAUTH_TOKEN, wrong_secret):
        assert secret not in caplog.text and secret not in str(raised.value)
