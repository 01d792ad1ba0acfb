"""Two nights of HubSpot through the extract task and dbt: contacts archived, merged into
another or deleted for good between the nights leave mart_leads on the second night. The
archived one is in the archived listing, the merged one is named by its survivor (whose
modified date the merge moves), the deleted one is in no listing: only the second night's
id sweep finds it. Expected leads and revenue come from the sandbox account's truth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from extract import hubspot
from extract.connection import SourceConnection
from funnelhouse import tasks
from funnelhouse.dbt import run_dbt
from funnelhouse.settings import Paths, SourceConfig
from sandbox import Dataset, RunningServer, start_hubspot
from sandbox.hubspot_account import AccountLeadTruth, GeneratedAccount, generate_account

TOKEN = "hubspot-nights-token-3b7e"
NIGHT_1 = datetime(2026, 7, 1, tzinfo=UTC)  # 03:00 Moscow, the night after the data ends
NIGHT_2 = NIGHT_1 + timedelta(days=1)
# A sweep every night, so the second night lists every id.
HUBSPOT = SourceConfig("hubspot", "unused", date(2026, 1, 1), {"sweep_every_days": 0})
# mart_leads and the seeds and models it reads, without tests (tests/dbt runs them): the
# build then takes seconds.
BUILD_TO_MART_LEADS = [
    "build", "--select", "+mart_leads", "--resource-type", "seed", "--resource-type", "model",
]  # fmt: skip


@pytest.fixture
def generated(dataset: Dataset) -> GeneratedAccount:
    return generate_account(dataset)


@pytest.fixture
def server(generated: GeneratedAccount, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    monkeypatch.setattr(hubspot, "REQUESTS_PER_SECOND", 10_000)
    with start_hubspot(generated.account, token=TOKEN, search_per_second=10_000) as running:
        yield running


def _night(server: RunningServer, paths: Paths, end: datetime, target: Path) -> None:
    """The nightly's HubSpot extract, phone validation and the dbt build up to mart_leads."""
    tasks.extract_source(
        HUBSPOT,
        run_id=f"scheduled__{end.isoformat()}",
        data_interval_end=end,
        connection=SourceConnection(server.url, TOKEN),
        paths=paths,
    )
    tasks.refresh_phones(paths)
    run_dbt(BUILD_TO_MART_LEADS, paths, target_path=target)


def _mart_leads(paths: Paths) -> dict[str, Decimal]:
    """Lead id -> revenue of every HubSpot lead in mart_leads."""
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = con.execute(
            "select lead_id, revenue from marts.mart_leads where source = 'hubspot'"
        ).fetchall()
    return {lead_id: Decimal(str(revenue or 0)) for lead_id, revenue in rows}


def _planted(truth: dict[str, AccountLeadTruth], leaving: set[str]) -> dict[str, Decimal]:
    return {
        lead_id: Decimal(t.won_amount)
        for lead_id, t in truth.items()
        if t.in_marts and lead_id not in leaving
    }


def _contact_id(lead_id: str) -> str:
    return lead_id.removeprefix("hubspot:")


def test_archived_merged_and_deleted_contacts_leave_the_marts_on_the_next_night(
    generated: GeneratedAccount, server: RunningServer, paths: Paths, tmp_path: Path
) -> None:
    truth, account = generated.truth, generated.account
    live = [t for t in truth.values() if t.in_marts]
    archived = next(t.lead_id for t in live if t.won_amount > 0)  # its won deal leaves too
    merged, survivor, deleted = [t.lead_id for t in live if not t.deal_ids][:3]
    target = tmp_path / "dbt_target"

    _night(server, paths, NIGHT_1, target)
    assert _mart_leads(paths) == _planted(truth, leaving=set())

    account.archive("contacts", _contact_id(archived), NIGHT_1 + timedelta(hours=2))
    account.merge_contacts(_contact_id(merged), _contact_id(survivor), NIGHT_1 + timedelta(hours=3))
    del account.contacts[_contact_id(deleted)]  # deleted for good: in no listing at all
    _night(server, paths, NIGHT_2, target)

    assert _mart_leads(paths) == _planted(truth, leaving={archived, merged, deleted})
