"""The CBR rates extractor against the sandbox (an independent implementation of
XML_daily.asp and XML_dynamic.asp): expected rows come from the generated dataset, never
from the client, and both ways of asking land the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from extract_testkit import FakeClock

from extract import cbr_rates
from extract.cbr_rates import extract_cbr_rates
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, RetryPolicy
from extract.landing import QUARANTINE_DIR, RawLanding
from extract.schemas import SCHEMAS
from sandbox import Dataset, Fault, RunningServer, generate
from sandbox.cbr_rates import DAILY_PATH, DYNAMIC_PATH, plant_valute_field, start_cbr_rates

# Two weeks, asked day by day. The CBR dates a rate the day after it sets it: nothing is
# set on Dec 31 and the new-year holidays of Jan 1-9, so Jan 1 to 12 have no publication
# and the first day is answered with Dec 31's (set on Dec 30); then Jan 13 and 14.
DATE_FROM, DATE_TO = date(2026, 1, 1), date(2026, 1, 14)
# Half a year, asked currency by currency: from a Sunday (Saturday Dec 20's publication)
# over the new year and every holiday of the dataset to the end of its rates.
LONG_FROM, LONG_TO = date(2025, 12, 21), date(2026, 7, 1)
Key = tuple[date, str]
ROW_COLUMNS = [
    field.name
    for field in SCHEMAS[("cbr_rates", "daily_rates")]
    if field.name not in ("_source", "_extracted_at", "_run_id", "_payload")
]


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


def extract(
    url: str,
    landing: RawLanding,
    clock: FakeClock,
    date_from: date = DATE_FROM,
    date_to: date = DATE_TO,
    **options,
) -> dict[str, int]:
    return extract_cbr_rates(
        SourceConnection(url, None),
        landing,
        date_from=date_from,
        date_to=date_to,
        client=fast_client(url, clock),
        **options,
    )


def expected_rows(
    dataset: Dataset, date_from: date = DATE_FROM, date_to: date = DATE_TO
) -> dict[Key, dict]:
    """The publications covering the range: the last one on or before its first day, and
    every one within it."""
    days = sorted({date.fromisoformat(row["Date"]) for row in dataset.currency_rates})
    first = max((day for day in days if day <= date_from), default=date_from)
    return {
        (date.fromisoformat(row["Date"]), row["CharCode"]): row
        for row in dataset.currency_rates
        if first <= date.fromisoformat(row["Date"]) <= date_to
    }


def landed(landing: RawLanding) -> list[dict]:
    table = pq.read_table(landing.entity_dir("daily_rates"))
    assert table.schema.equals(SCHEMAS[("cbr_rates", "daily_rates")])
    return table.to_pylist()


def assert_lands_each_publication_once(
    rows: list[dict], expected: dict[Key, dict], date_from: date = DATE_FROM
) -> None:
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
        assert row["requested_date"] == max(row["rate_date"], date_from)


def test_two_weeks_over_the_new_year_are_asked_day_by_day_and_land_each_publication_once(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "cbr_rates", "manual")
    expected = expected_rows(dataset)
    assert {day for day, _ in expected} == {
        date(2025, 12, 31),
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
        cbr, dataset, rate_date=date(2026, 1, 13), char_code="USD", field="Value", text="78.5"
    )
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    counts = extract(cbr.url, landing, clock)

    del expected[(date(2026, 1, 13), "USD")]
    assert counts == {"daily_rates": len(expected)}
    assert_lands_each_publication_once(landed(landing), expected)
    (record,) = pq.read_table(landing.raw_dir / "cbr_rates" / QUARANTINE_DIR).to_pylist()
    assert record["entity"] == "daily_rates"
    assert record["record_id"] == "2026-01-13:R01235"
    for part in ("2026-01-13", "R01235", "Value '78.5'"):
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
        date_from=date(2026, 1, 13),
        date_to=date(2026, 1, 14),
        currencies={"JPY"},
    )
    assert counts == {"daily_rates": 2}
    assert {(row["rate_date"], row["value"]) for row in landed(landing)} == {
        (date.fromisoformat(row["Date"]), row["Value"])
        for row in dataset.currency_rates
        if row["CharCode"] == "JPY" and row["Date"] in ("2026-01-13", "2026-01-14")
    }


# --- long ranges: XML_dynamic.asp -----------------------------------------------------------


def currency_count(dataset: Dataset) -> int:
    return len({row["ID"] for row in dataset.currency_rates})


def test_half_a_year_is_asked_per_currency_and_lands_each_publication_once(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    landing = RawLanding(tmp_path, "cbr_rates", "manual")
    expected = expected_rows(dataset, LONG_FROM, LONG_TO)
    days = {day for day, _ in expected}
    assert min(days) == date(2025, 12, 20)  # the Saturday before the first day asked
    assert max(days) == LONG_TO  # set on Tuesday June 30
    assert {day.weekday() for day in days} == {1, 2, 3, 4, 5}  # none dated Sunday or Monday
    # nothing dated the day after a holiday
    assert not days & {date(2026, 1, 5), date(2026, 1, 10), date(2026, 2, 24), date(2026, 3, 10)}

    counts = extract(cbr.url, landing, clock, LONG_FROM, LONG_TO)

    # the daily documents of both ends, then one series per currency, against 193 days
    assert cbr.request_count == 2 + currency_count(dataset) == 7
    assert counts == {"daily_rates": len(expected)}
    assert_lands_each_publication_once(landed(landing), expected, LONG_FROM)
    assert landing.quarantined == {}
    assert clock.sleeps == []


@pytest.mark.parametrize(
    "date_from",
    [
        date(2025, 12, 15),  # before the dataset's first publication
        date(2025, 12, 16),  # its first publication, a Tuesday
        date(2026, 1, 1),  # a holiday: Dec 31's publication is the first
    ],
)
def test_per_day_and_per_currency_land_the_same_rows(
    tmp_path: Path,
    cbr,
    dataset: Dataset,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    date_from: date,
):
    date_to = date(2026, 3, 10)  # past Feb 23 and Mar 9
    per_currency = RawLanding(tmp_path / "per_currency", "cbr_rates", "manual")
    extract(cbr.url, per_currency, clock, date_from, date_to)
    asked_per_currency = cbr.request_count

    monkeypatch.setattr(cbr_rates, "PER_DAY_MAX_DAYS", 366)
    per_day = RawLanding(tmp_path / "per_day", "cbr_rates", "manual")
    extract(cbr.url, per_day, clock, date_from, date_to)

    def rows_of(landing: RawLanding) -> list[dict]:
        rows = [{column: row[column] for column in ROW_COLUMNS} for row in landed(landing)]
        return sorted(rows, key=lambda row: (row["rate_date"], row["currency"]))

    assert rows_of(per_currency) == rows_of(per_day)
    assert len(rows_of(per_day)) == len(expected_rows(dataset, date_from, date_to))
    assert cbr.request_count - asked_per_currency == (date_to - date_from).days + 1
    assert asked_per_currency == 7


def test_each_row_keeps_its_own_nominal_when_a_currency_changes_it_within_the_range(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    """From March the CBR quotes CNY per 10 yuan (the value scaled with it)."""
    for row in dataset.currency_rates:
        if row["CharCode"] == "CNY" and row["Date"] >= "2026-03-01":
            row["Nominal"], row["Value"] = 10, row["Value"] * 10
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    extract(cbr.url, landing, clock, LONG_FROM, LONG_TO, currencies=["CNY"])

    expected = expected_rows(dataset, LONG_FROM, LONG_TO)
    rows = landed(landing)
    assert_lands_each_publication_once(
        rows, {key: row for key, row in expected.items() if key[1] == "CNY"}, LONG_FROM
    )
    assert {row["nominal"] for row in rows if row["rate_date"] < date(2026, 3, 1)} == {1}
    assert {row["nominal"] for row in rows if row["rate_date"] >= date(2026, 3, 1)} == {10}


def test_series_faults_are_retried_without_duplicates_or_losses(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    cbr.inject(DYNAMIC_PATH, [500, Fault.TRUNCATE, 503])
    cbr.inject(DAILY_PATH, [Fault.TRUNCATE])
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    counts = extract(cbr.url, landing, clock, LONG_FROM, LONG_TO)

    assert len(clock.sleeps) == 4  # one wait per fault
    assert cbr.request_count == 2 + currency_count(dataset) + 4
    expected = expected_rows(dataset, LONG_FROM, LONG_TO)
    assert counts == {"daily_rates": len(expected)}
    assert_lands_each_publication_once(landed(landing), expected, LONG_FROM)


def test_a_malformed_record_is_quarantined_and_the_rest_land(
    tmp_path: Path, cbr, dataset: Dataset, clock: FakeClock
):
    expected = expected_rows(dataset, LONG_FROM, LONG_TO)
    plant_valute_field(
        cbr,
        dataset,
        rate_date=date(2026, 3, 11),
        char_code="USD",
        field="Value",
        text="78.5",
        path=DYNAMIC_PATH,
    )
    landing = RawLanding(tmp_path, "cbr_rates", "manual")

    counts = extract(cbr.url, landing, clock, LONG_FROM, LONG_TO)

    del expected[(date(2026, 3, 11), "USD")]
    assert counts == {"daily_rates": len(expected)}
    assert_lands_each_publication_once(landed(landing), expected, LONG_FROM)
    (record,) = pq.read_table(landing.raw_dir / "cbr_rates" / QUARANTINE_DIR).to_pylist()
    assert record["entity"] == "daily_rates"
    assert record["record_id"] == "2026-03-11:R01235"
    for part in ("11.03.2026", "R01235", "Value '78.5'"):
        assert part in record["reason"]
    assert "<Value>78.5</Value>" in record["_payload"]
