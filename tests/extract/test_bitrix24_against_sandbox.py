"""The Bitrix24 extractor against the sandbox portal (an independent implementation of the
wire format): expected numbers come from the generated portal, never from the client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from extract_testkit import FakeClock

from extract.bitrix24 import DRAIN_PER_SECOND, extract_bitrix24, sweep_ids, webhook_base_url
from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer
from extract.landing import RawLanding
from sandbox import Portal, RunningServer, generate, generate_portal, start_bitrix24
from sandbox.bitrix24 import BUCKET_SIZE, LeakyBucket

CODE = "sandbox-webhook-code-5e2"
WINDOW_FROM = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_TO = datetime(2026, 7, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def portal() -> Portal:
    # 600 amoCRM leads give a portal of 60 leads: more than one page of 50.
    return generate_portal(generate(seed=7, n_leads=600))


@pytest.fixture(scope="module")
def portal_server(portal: Portal) -> Iterator[RunningServer]:
    dataset = generate(seed=7, n_leads=50)  # unused: the portal is given
    with start_bitrix24(dataset, token=CODE, bucket_size=10_000, portal=portal) as server:
        yield server


def _client(server: RunningServer) -> HttpClient:
    clock = FakeClock()
    return HttpClient(
        "bitrix24",
        base_url=webhook_base_url(SourceConnection(server.url, CODE, login="1")),
        token=CODE,
        pacer=Pacer(1000, 1.0, clock=clock.monotonic, sleep=clock.sleep),
        bearer=False,
    )


def _extract(server: RunningServer, root: Path, start: datetime, end: datetime) -> RawLanding:
    landing = RawLanding(root, "bitrix24", "run-1")
    conn = SourceConnection(server.url, CODE, login="1")
    extract_bitrix24(conn, landing, updated_from=start, updated_to=end, client=_client(server))
    return landing


def _landed(landing: RawLanding, entity: str) -> list[dict]:
    return pq.read_table(landing.entity_dir(entity)).to_pylist()


def test_every_portal_record_lands_and_parses(
    portal: Portal, portal_server: RunningServer, tmp_path: Path
):
    landing = _extract(portal_server, tmp_path, WINDOW_FROM, WINDOW_TO)
    assert landing.quarantined == {}
    assert len(portal.leads) > 50  # paged
    assert landing.written == {
        "statuses": len(portal.statuses),
        "leads": len(portal.leads),
        "deals": len(portal.deals),
        "contacts": len(portal.contacts),
        "stage_history": len(portal.lead_history) + len(portal.deal_history),
    }
    leads = {row["lead_id"]: row for row in _landed(landing, "leads")}
    for lead in portal.leads:
        landed = leads[int(lead["ID"])]
        assert [p["value"] for p in landed["phones"]] == [p["VALUE"] for p in lead["PHONE"]]
        assert landed["status_description"] == (lead["STATUS_DESCRIPTION"] or None)
    deals = {row["deal_id"]: row for row in _landed(landing, "deals")}
    for deal in portal.deals:
        assert deals[int(deal["ID"])]["opportunity"] == Decimal(deal["OPPORTUNITY"])
        assert deals[int(deal["ID"])]["lead_id"] == (
            int(deal["LEAD_ID"]) if deal["LEAD_ID"] else None
        )


def test_only_records_modified_in_the_window_land(
    portal: Portal, portal_server: RunningServer, tmp_path: Path
):
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    expected = {
        int(lead["ID"])
        for lead in portal.leads
        if start <= datetime.fromisoformat(lead["DATE_MODIFY"]) < end
    }
    landing = _extract(portal_server, tmp_path, start, end)
    assert expected  # the window is not empty
    assert {row["lead_id"] for row in _landed(landing, "leads")} == expected


def test_the_id_sweep_misses_a_deleted_lead(tmp_path: Path):
    dataset = generate(seed=7, n_leads=300)
    portal = generate_portal(dataset)
    with start_bitrix24(dataset, token=CODE, bucket_size=10_000, portal=portal) as server:
        deleted = portal.leads.pop(3)
        landing = RawLanding(tmp_path, "bitrix24", "run-1")
        conn = SourceConnection(server.url, CODE, login="1")
        counts = sweep_ids(conn, landing, client=_client(server))
    ids = {row["lead_id"] for row in _landed(landing, "lead_ids")}
    assert counts == {"lead_ids": len(portal.leads), "deal_ids": len(portal.deals)}
    assert int(deleted["ID"]) not in ids
    assert ids == {int(lead["ID"]) for lead in portal.leads}


def test_pacing_at_the_drain_rate_never_fills_the_bucket():
    clock = FakeClock()
    bucket = LeakyBucket(BUCKET_SIZE, 2.0, clock=clock.monotonic)
    pacer = Pacer(DRAIN_PER_SECOND, 1.0, clock=clock.monotonic, sleep=clock.sleep)
    for _ in range(500):
        pacer.wait()
        assert bucket.admit()
    hammering = LeakyBucket(BUCKET_SIZE, 2.0, clock=clock.monotonic)
    assert [hammering.admit() for _ in range(BUCKET_SIZE + 1)] == [True] * BUCKET_SIZE + [False]
