"""The CBR rates extractor against the sandbox (an independent implementation of
XML_daily.asp): expected rows come from the generated dataset, never from the client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from extract_testkit import FakeClock

from extract.cbr_rates import extract_cbr_rates
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy
from extract.landing import QUARANTINE_DIR, RawLanding
from extract.schemas import SCHEMAS
from sandbox import Dataset, Fault, RunningServer, generate
from sandbox.cbr_rates import DAILY_PATH, plant_valute_field, start_cbr_rates

# Weekends, Dec 31 and the new-year holidays of Jan 1-9: publications on Dec 26, 29, 30,
# then Jan 12 onwards. The first day asked is a Saturday.
DATE_FROM, DATE_TO = date(2025, 12, 27), date(2026, 1, 14)
Key = tuple[date, str]


@pytest.fixture
def dataset() -> Dataset:
    return generate(seed=7, n_leads=120)  # its own: planting changes the rows


@pytest.fixture
def cbr(dataset: Dataset) -> Iterator[RunningServer]:
    with start_cbr_rates(dataset) as server:
        yield server


def fast_client(url: str, clock: FakeClock) -> HttpClient:
    """Retry waits land on `clock`; pacing runs on a clock of its own."""
    pacing = FakeClock()
    return HttpClient(
        "cbr_rates",
        base_url=url,
        token=None,
        pacer=Pacer(1000, 1.0, clock=pacing.monotonic, sleep=pacing.sleep),
        retry=RetryPolicy(max_attempts=4),
        timeout=(1.0, 0.5),
        sleep=clock.sleep,
    )


def extract(url: str, landing: RawLanding, clock: FakeClock, **options) -> dict[str, int]:
    return extract_cbr_rates(
        SourceConnection(url, None),
        landing,
        date_from=DATE_FROM,
        date_to=DATE_TO,
        client=fast_client(url, clock),
        **options,
    )


def expected_rows(dataset: Dataset) -> dict[Key, dict]:
    """The publications covering the range: the last one on or before its first day, and
    every one within it."""
    days = sorted({date.fromisoformat(row["Date"]) for row in dataset.currency_rates})
    first = max(day for day in days if day <= DATE_FROM)
    return {
        (date.fromisoformat(row["Date"]), row["CharCode"]): row
        for row in dataset.currency_rates
        if first <= date.fromisoformat(row["Date"]) <= DATE_TO
    }


def landed(landing: RawLanding) -> list[dict]:
    table = pq.read_table(landing.entity_dir("daily_rates"))
    assert table.schema.equals(SCHEMAS[("cbr_rates", "daily_rates")])
    return table.to_pylist()


def assert_lands_each_publication_once(rows: list[dict], expected: dict[Key, dict]) -> None:
    keys = [(row["rate_date"], row["currency"]) for row in rows]
    assert len(keys) == len(set(keys)), "a publication landed twice"
    assert set(keys) == set(expected)
    for row in rows:
        wire = expected[(row["rate_date"], row["currency"])]
        assert row["value"] == wire["Value"]  # Decimal equality, per nominal units
        assert row["nominal"] == wire["Nominal"]
        assert (row["num_code"], row["cbr_id"], row["name"]) == (
            wire["NumCode"],
            wire["ID"],
            wire["Name"],
        )
        # asked first on its own day, or on the range's first day for the one before it
        assert row["requested_date"] == max(row["rate_date"], DATE_FROM)


def test_a_range_over_weekends_and_the_new_year_lands_each_publication_once(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "cbr_rates", "manual")
    expected = expected_rows(dataset)
    assert {day for day, _ in expected} == {
        date(2025, 12, 26),
        date(2025, 12, 29),
        date(2025, 12, 30),
        date(2026, 1, 12),
        date(2026, 1, 13),
        date(2026, 1, 14),
    }

    counts = extract(cbr.url, landing, clock)

    assert counts == {"daily_rates": len(expected)}
    assert cbr.request_count == (DATE_TO - DATE_FROM).days + 1  # one request a day
    rows = landed(landing)
    assert_lands_each_publication_once(rows, expected)
    kzt = next(row for row in rows if row["currency"] == "KZT")
    assert kzt["nominal"] == 100
    assert landing.quarantined == {}
    assert clock.sleeps == []


def test_a_500_a_cut_body_and_a_timeout_are_retried_without_duplicates_or_losses(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    cbr.stall_seconds = 1.0  # beyond the client's 0.5 s read timeout
    cbr.inject(DAILY_PATH, [500, Fault.TRUNCATE])
    cbr.schedule({7: Fault.TIMEOUT})
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    counts = extract(cbr.url, landing, clock)

    assert len(clock.sleeps) == 3  # one wait per fault
    assert cbr.request_count == (DATE_TO - DATE_FROM).days + 1 + 3
    expected = expected_rows(dataset)
    assert counts == {"daily_rates": len(expected)}
    assert_lands_each_publication_once(landed(landing), expected)


def test_a_malformed_valute_is_quarantined_and_the_rest_land(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    expected = expected_rows(dataset)
    plant_valute_field(
        cbr, dataset, rate_date=date(2026, 1, 12), char_code="USD", field="Value", text="78.5"
    )
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    counts = extract(cbr.url, landing, clock)

    del expected[(date(2026, 1, 12), "USD")]
    assert counts == {"daily_rates": len(expected)}
    assert_lands_each_publication_once(landed(landing), expected)
    (record,) = pq.read_table(landing.raw_dir / "cbr_rates" / QUARANTINE_DIR).to_pylist()
    assert record["entity"] == "daily_rates"
    assert record["record_id"] == "2026-01-12:R01235"
    for part in ("2026-01-12", "R01235", "Value '78.5'"):
        assert part in record["reason"]
    assert "<Value>78.5</Value>" in record["_payload"]


def test_currencies_keep_only_the_asked_ones(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "cbr_rates", "manual")
    counts = extract(cbr.url, landing, clock, currencies=["usd", "EUR"])
    expected = {key: row for key, row in expected_rows(dataset).items() if key[1] in ("USD", "EUR")}
    assert counts == {"daily_rates": len(expected)}
    assert_lands_each_publication_once(landed(landing), expected)


def test_the_default_client_reads_the_public_feed_without_a_token(
    tmp_path: Path, cbr, dataset: Dataset
):
    landing = RawLanding(tmp_path, "cbr_rates", "manual")
    counts = extract_cbr_rates(
        SourceConnection(cbr.url, None),
        landing,
        date_from=date(2026, 1, 12),
        date_to=date(2026, 1, 13),
        currencies={"JPY"},
    )
    assert counts == {"daily_rates": 2}
    assert {(row["rate_date"], row["value"]) for row in landed(landing)} == {
        (date.fromisoformat(row["Date"]), row["Value"])
        for row in dataset.currency_rates
        if row["CharCode"] == "JPY" and row["Date"] in ("2026-01-12", "2026-01-13")
    }
