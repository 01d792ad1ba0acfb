"""Ad spend of three platforms in three currencies, converted at the CBR's daily rates.

Yandex Direct reports in RUB (and one account in KZT), Google Ads in USD, Meta in EUR. The
landed rates are dated Thursday 5, Friday 6 and Tuesday 10 March 2026, nothing over the
weekend and the holiday Monday 9 March, whose requests return Friday's. That is not the
CBR's own calendar (it dates a rate the day it takes effect: Saturday 7, then Wednesday
11), but the SQL only takes the last rate on or before a day, whatever the calendar.
Two extraction runs land the files; the second restates a Google Ads day. Every expected
amount below is picked by hand: the cost times the rate of the last publication on or
before the report day (named in each line), divided by the nominal, rounded once to the
micro-unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from dbt_testkit import Dbt, create_phone_table, land, query, warehouse_env

RUN_1_AT = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
RUN_2_AT = datetime(2026, 3, 12, 3, 0, tzinfo=UTC)

WEDNESDAY = date(2026, 3, 4)
THURSDAY, FRIDAY, SATURDAY, SUNDAY, HOLIDAY_MONDAY, TUESDAY = (
    WEDNESDAY + timedelta(days=offset) for offset in range(1, 7)
)

# Roubles per `nominal` units, as the CBR publishes them.
USD_THURSDAY, USD_FRIDAY, USD_TUESDAY = Decimal("79.5"), Decimal("80.1234"), Decimal("81.0011")
EUR_THURSDAY, EUR_FRIDAY, EUR_TUESDAY = Decimal("91.2"), Decimal("92.5678"), Decimal("93.01")
KZT_PER_100_FRIDAY = Decimal("15.4812")
PUBLICATIONS = {
    THURSDAY: {"USD": USD_THURSDAY, "EUR": EUR_THURSDAY, "KZT": Decimal("15.3")},
    FRIDAY: {"USD": USD_FRIDAY, "EUR": EUR_FRIDAY, "KZT": KZT_PER_100_FRIDAY},
    TUESDAY: {"USD": USD_TUESDAY, "EUR": EUR_TUESDAY, "KZT": Decimal("15.6")},
}
NOMINALS = {"USD": 1, "EUR": 1, "KZT": 100}
# The day each request returns: the last publication on or before the day asked for.
REQUESTS = {
    THURSDAY: THURSDAY,
    FRIDAY: FRIDAY,
    SATURDAY: FRIDAY,
    SUNDAY: FRIDAY,
    HOLIDAY_MONDAY: FRIDAY,
    TUESDAY: TUESDAY,
}

YANDEX, YANDEX_KZ, GOOGLE, META = "playground-ads", "kz-ads", "4561237890", "1029384756123"
BRAND, GOOGLE_SEARCH, META_LEADS = 21_450_000_102, 21_450_000_101, "120210000000000201"


def _micro(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


def _rates() -> list[dict[str, Any]]:
    return [
        {
            "rate_date": published,
            "requested_date": requested,
            "currency": currency,
            "num_code": None,
            "cbr_id": None,
            "nominal": NOMINALS[currency],
            "value": value,
            "name": currency,
        }
        for requested, published in REQUESTS.items()
        for currency, value in PUBLICATIONS[published].items()
    ]


def _stat(
    account: str, currency: str, day: date, campaign_id: int | str, cost: str
) -> dict[str, Any]:
    return {
        "account": account,
        "date": day,
        "campaign_id": campaign_id,
        "campaign_name": f"campaign {campaign_id}",
        "impressions": 100,
        "clicks": 10,
        "cost": Decimal(cost),
        "currency": currency,
        "time_zone": "Europe/Berlin" if currency == "EUR" else "Europe/Moscow",
    }


YANDEX_STATS = [
    {**_stat(YANDEX, "RUB", FRIDAY, 70_000_006, "1000.50"), "includes_vat": False},
    {**_stat(YANDEX, "RUB", SATURDAY, 70_000_006, "500"), "includes_vat": False},
    {**_stat(YANDEX_KZ, "KZT", SUNDAY, 70_000_077, "10000"), "includes_vat": False},
]
GOOGLE_STATS_RUN_1 = [
    _stat(GOOGLE, "USD", THURSDAY, BRAND, "10"),
    _stat(GOOGLE, "USD", SATURDAY, BRAND, "12.345678"),
    _stat(GOOGLE, "USD", HOLIDAY_MONDAY, GOOGLE_SEARCH, "3"),
]
# Run 2 restates Saturday and reports Tuesday.
GOOGLE_STATS_RUN_2 = [
    _stat(GOOGLE, "USD", SATURDAY, BRAND, "15.5"),
    _stat(GOOGLE, "USD", TUESDAY, BRAND, "4"),
]
META_STATS = [
    _stat(META, "EUR", SUNDAY, META_LEADS, "20.123457"),
    _stat(META, "EUR", WEDNESDAY, META_LEADS, "7.77"),  # before the first EUR rate
]

SpendKey = tuple[str, str, date, str]
EXPECTED_SPEND: dict[SpendKey, Decimal | None] = {
    ("yandex_direct", YANDEX, FRIDAY, "70000006"): Decimal("1000.50"),  # RUB is worth 1
    ("yandex_direct", YANDEX, SATURDAY, "70000006"): Decimal(500),
    # Sunday: Friday's rate per 100 tenge
    ("yandex_direct", YANDEX_KZ, SUNDAY, "70000077"): Decimal(10_000) * KZT_PER_100_FRIDAY / 100,
    ("google_ads", GOOGLE, THURSDAY, str(BRAND)): 10 * USD_THURSDAY,
    # the restated cost, at Friday's rate
    ("google_ads", GOOGLE, SATURDAY, str(BRAND)): Decimal("15.5") * USD_FRIDAY,
    ("google_ads", GOOGLE, HOLIDAY_MONDAY, str(GOOGLE_SEARCH)): 3 * USD_FRIDAY,
    ("google_ads", GOOGLE, TUESDAY, str(BRAND)): 4 * USD_TUESDAY,
    ("meta_ads", META, SUNDAY, META_LEADS): _micro(Decimal("20.123457") * EUR_FRIDAY),
    ("meta_ads", META, WEDNESDAY, META_LEADS): None,  # no rate yet: flagged, never 0
}

# The phone table must exist for the lead models; no lead is landed here.
UNUSED_PHONE = ("+7 916 123-45-67", "+79161234567", True, None)
CONVERTED = (
    "select platform, account, spend_date, campaign_id, spend"
    " from intermediate.int_ad_spend_converted"
)


@dataclass(frozen=True)
class Build:
    warehouse: Path
    spend_after_run_1: dict[SpendKey, Decimal | None]


def _spend(warehouse: Path) -> dict[SpendKey, Decimal | None]:
    return {tuple(row[:4]): row[4] for row in query(warehouse, CONVERTED)}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    """Seeds and runs after run 1, then runs again (incrementally) after run 2."""
    work_dir = tmp_path_factory.mktemp("dbt_ad_spend")
    warehouse, raw_dir = work_dir / "funnelhouse.duckdb", work_dir / "raw"
    with warehouse_env(warehouse, raw_dir):
        create_phone_table(warehouse, [UNUSED_PHONE])
        land(raw_dir, "cbr_rates", "daily_rates", "run1", RUN_1_AT, _rates())
        land(raw_dir, "yandex_direct", "campaign_stats", "run1", RUN_1_AT, YANDEX_STATS)
        land(raw_dir, "google_ads", "campaign_stats", "run1", RUN_1_AT, GOOGLE_STATS_RUN_1)
        land(raw_dir, "meta_ads", "campaign_stats", "run1", RUN_1_AT, META_STATS)
        dbt = Dbt(work_dir)
        dbt("seed")
        dbt("run", "--select", "+marts")
        spend_after_run_1 = _spend(warehouse)
        land(raw_dir, "google_ads", "campaign_stats", "run2", RUN_2_AT, GOOGLE_STATS_RUN_2)
        land(raw_dir, "cbr_rates", "daily_rates", "run2", RUN_2_AT, _rates())
        dbt("run", "--select", "+marts")
        yield Build(warehouse, spend_after_run_1)


def test_each_cost_takes_the_rate_of_its_report_date(build: Build) -> None:
    assert _spend(build.warehouse) == EXPECTED_SPEND


def test_a_restated_day_replaces_the_earlier_report(build: Build) -> None:
    saturday = ("google_ads", GOOGLE, SATURDAY, str(BRAND))
    assert build.spend_after_run_1[saturday] == _micro(Decimal("12.345678") * USD_FRIDAY)
    assert _spend(build.warehouse)[saturday] == Decimal("15.5") * USD_FRIDAY


def test_each_publication_is_staged_once(build: Build) -> None:
    rows = query(
        build.warehouse,
        "select rate_date, currency, nominal, value from staging.stg_cbr_rates__daily_rates",
    )
    assert sorted(rows) == sorted(
        (day, currency, NOMINALS[currency], value)
        for day, values in PUBLICATIONS.items()
        for currency, value in values.items()
    )


def test_mart_spend_per_channel_is_the_converted_spend(build: Build) -> None:
    # No lead came in: every campaign's spend stays under segment no_leads (the seed's
    # non-ad costs add rows of channel `unattributed`, without spend).
    rows = query(
        build.warehouse,
        "select channel, segment, spend from marts.mart_unit_economics"
        " where cohort_month = date '2026-03-01' and segment <> 'all'"
        " and channel in ('yandex_direct', 'google_ads', 'meta_ads')",
    )
    expected: dict[str, Decimal] = {}
    for (platform, *_), spend in EXPECTED_SPEND.items():
        expected[platform] = expected.get(platform, Decimal(0)) + (spend or 0)
    assert {channel: spend for channel, _, spend in rows} == expected
    assert {segment for _, segment, _ in rows} == {"no_leads"}
