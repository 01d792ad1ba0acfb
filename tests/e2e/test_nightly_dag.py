"""The nightly DAG through Airflow against the sandbox, checked against what the sandbox planted.

Expected values come from the generator's ground truth (`Dataset.truth` of amoCRM, the
Bitrix24 portal's `Portal.truth`, the HubSpot account's `GeneratedAccount.truth`, each ad
platform's statistics and the CBR's rates), never from the pipeline under test. Two runs
of the same logical date must give identical marts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from funnelhouse import local_airflow
from funnelhouse.demo import DEMO_LOGICAL_DATE, running_sandbox, sandbox_connections
from sandbox.bitrix24_portal import generate_portal
from sandbox.generator import Dataset, generate
from sandbox.hubspot_account import AccountLeadTruth, generate_account

pytestmark = pytest.mark.e2e

SEED, LEADS = 7, 1200
# A token no test data contains, so finding it in a log means it leaked.
TOKEN = "e2e-token-7c1d9f0b2a"


@dataclass
class NightlyRuns:
    warehouse: Path
    logs: list[str]
    marts_after_each_run: list[list[tuple[object, ...]]]


def _mart_rows(warehouse: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select * from marts.mart_unit_economics order by all").fetchall()


@dataclass(frozen=True)
class PlantedLead:
    """What the sandbox planted in one live lead of any CRM."""

    segment: str
    won_amount: int
    phone_valid: bool


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(seed=SEED, n_leads=LEADS)


@pytest.fixture(scope="module")
def hubspot_truth(dataset: Dataset) -> dict[str, AccountLeadTruth]:
    return generate_account(dataset).truth


@pytest.fixture(scope="module")
def live(dataset: Dataset, hubspot_truth: dict[str, AccountLeadTruth]) -> list[PlantedLead]:
    """The live leads of amoCRM, of the Bitrix24 portal (which lists no deleted one) and of
    the HubSpot account (its contacts neither archived nor merged away)."""
    amocrm = [
        PlantedLead(t.segment, t.won_amount, t.phone_kind in ("valid", "duplicate"))
        for t in dataset.truth.values()
        if not t.is_deleted
    ]
    bitrix24 = [
        PlantedLead(t.segment, t.won_amount, t.phone_kind in ("valid", "duplicate"))
        for t in generate_portal(dataset).truth.values()
    ]
    hubspot = [
        PlantedLead(t.segment, t.won_amount, t.phone_kind in ("valid", "duplicate"))
        for t in hubspot_truth.values()
        if t.in_marts
    ]
    assert bitrix24, "the demo runs with the Bitrix24 portal"
    assert hubspot, "the demo runs with the HubSpot account"
    return amocrm + bitrix24 + hubspot


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NightlyRuns]:
    root = tmp_path_factory.mktemp("e2e")
    warehouse = root / "warehouse" / "funnelhouse.duckdb"
    runs = NightlyRuns(warehouse=warehouse, logs=[], marts_after_each_run=[])
    with running_sandbox(SEED, LEADS, root / "sandbox.log", token=TOKEN) as ports:
        env = local_airflow.airflow_environment(root / "airflow", sandbox_connections(ports, TOKEN))
        env["FUNNELHOUSE_WAREHOUSE"] = str(warehouse)
        env["FUNNELHOUSE_RAW_DIR"] = str(root / "raw")
        local_airflow.prepare(env)
        for attempt in (1, 2):
            log_path = root / f"dag-run-{attempt}.log"
            local_airflow.run_dag_once("funnel_nightly", DEMO_LOGICAL_DATE, env, log_path)
            runs.logs.append(log_path.read_text(encoding="utf-8", errors="replace"))
            runs.marts_after_each_run.append(_mart_rows(warehouse))
    yield runs


def _grand_total(con: duckdb.DuckDBPyConnection, segment: str, column: str) -> Decimal:
    value = con.execute(
        f"select sum({column}) from marts.mart_unit_economics"
        " where channel = 'all' and segment = ?",
        [segment],
    ).fetchone()[0]
    return Decimal(str(value or 0))


def test_every_live_lead_of_each_segment_reaches_the_mart(
    nightly: NightlyRuns, live: list[PlantedLead]
) -> None:
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        assert _grand_total(con, "all", "leads") == len(live)
        for segment in ("dealer", "developer", "private", "unknown"):
            expected = sum(1 for t in live if t.segment == segment)
            assert _grand_total(con, segment, "leads") == expected, segment


def test_private_buyers_are_most_leads_but_dealers_bring_the_revenue(
    nightly: NightlyRuns, live: list[PlantedLead]
) -> None:
    planted_revenue = {
        segment: sum(t.won_amount for t in live if t.segment == segment)
        for segment in ("dealer", "private")
    }
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        total_leads = _grand_total(con, "all", "leads")
        total_revenue = _grand_total(con, "all", "revenue")
        assert _grand_total(con, "private", "leads") / total_leads > Decimal("0.5")
        for segment, revenue in planted_revenue.items():
            assert _grand_total(con, segment, "revenue") == revenue, segment
        assert _grand_total(con, "dealer", "revenue") / total_revenue > Decimal("0.8")
        assert _grand_total(con, "private", "revenue") / total_revenue < Decimal("0.1")


def test_hubspot_contacts_take_the_channel_of_their_original_source(
    nightly: NightlyRuns, hubspot_truth: dict[str, AccountLeadTruth]
) -> None:
    """The account's contacts name campaigns of all three ad platforms (by id or by name)
    in their source drill-downs, or came from organic search, email, referrals, organic
    social, direct visits or the sales team."""
    planted = {lead: t.channel for lead, t in hubspot_truth.items() if t.in_marts}
    assert set(planted.values()) == {
        "yandex_direct", "google_ads", "meta_ads",
        "organic", "email", "referral", "social", "unattributed",
    }  # fmt: skip
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        landed = con.execute(
            "select lead_id, channel from marts.mart_leads where source = 'hubspot'"
        ).fetchall()
    assert dict(landed) == planted


def _roubles(cost_micros: int, currency: str, day: str, rates: list[dict]) -> Decimal:
    """A planted cost in roubles at the last CBR rate published on or before its day."""
    cost = Decimal(cost_micros) / 1_000_000
    if currency == "RUB":
        return cost
    published = [r for r in rates if r["CharCode"] == currency and r["Date"] <= day]
    rate = max(published, key=lambda r: r["Date"])
    return cost * rate["Value"] / rate["Nominal"]


def test_every_platforms_spend_reaches_the_mart_in_roubles(
    nightly: NightlyRuns, dataset: Dataset
) -> None:
    planted = {
        platform: sum(
            _roubles(row["Cost"], account.currency, row["Date"], dataset.currency_rates)
            for row in rows
        )
        for platform, (account, rows) in dataset.platform_stats().items()
    }
    assert {"USD", "EUR"} <= {account.currency for account, _ in dataset.platform_stats().values()}
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        for platform, expected in planted.items():
            spend = con.execute(
                "select sum(spend) from marts.mart_unit_economics"
                " where segment = 'all' and channel = ?",
                [platform],
            ).fetchone()[0]
            assert Decimal(str(spend)) == expected, platform
        assert _grand_total(con, "all", "spend") == sum(planted.values())


def test_quality_gate_sees_the_planted_share_of_invalid_phones(
    nightly: NightlyRuns, live: list[PlantedLead]
) -> None:
    planted_valid = sum(1 for t in live if t.phone_valid) / len(live)
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        observed = con.execute(
            "select observed_value, status from quality.check_results"
            " where check_name = 'valid_phone_share' and scope = 'all'"
            " order by checked_at desc limit 1"
        ).fetchone()
    assert observed is not None
    assert observed[0] == pytest.approx(planted_valid, abs=1e-9)
    assert observed[1] == "pass"


def test_a_second_run_of_the_same_night_changes_no_mart_row(nightly: NightlyRuns) -> None:
    first, second = nightly.marts_after_each_run
    assert first, "the first run built an empty mart"
    assert second == first


def test_the_token_never_reaches_a_log(nightly: NightlyRuns) -> None:
    """TOKEN is every sandbox's token, the Bitrix24 webhook code (a URL path secret) and the
    HubSpot bearer token too."""
    for log in nightly.logs:
        assert "Task instance state updated" in log  # the log is the task log, not empty
        assert "bitrix24 leads: done" in log  # the webhook was called in this run
        assert "hubspot contacts: done" in log  # so was HubSpot, with its bearer token
        assert TOKEN not in log
