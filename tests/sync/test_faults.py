"""Many seeded fault runs against the sandbox, compared at the extract level with a
fault-free run: the de-duplicated records are the same (nothing lost) and every landed
version is one the fault-free run landed too (nothing doubled or garbled).

Faults come from the sandbox's request counters (429s, 5xx, timeouts, truncated bodies,
Yandex reports that stay unready, a lead edited while the leads are being listed), so a
failing seed replays exactly. Retry waits and pacing are skipped; timeouts are real but
short.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sync_testkit import (
    TOKEN,
    YANDEX,
    Sandbox,
    canonical,
    fast_client,
    landed_rows,
    running_sandbox,
    unix,
)

from extract.amocrm import extract_amocrm, sweep_lead_ids
from extract.connection import SourceConnection
from extract.http import SourceAuthError
from extract.landing import RawLanding
from extract.yandex_direct import extract_yandex_direct
from sandbox import Dataset, Fault, move_lead_during_listing, seeded_faults
from sandbox.faults import TRANSIENT_STATUSES

WINDOW_FROM = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_TO = datetime(2026, 7, 1, tzinfo=UTC)
PAGE_SIZE = 20  # many pages, so faults and the edit land mid-listing
READ_TIMEOUT = 0.25
STALL = 0.6  # a Fault.TIMEOUT answers after this, long after the client gave up
SEEDS = range(12)
AMOCRM_ENTITIES = ("leads", "contacts", "status_changes", "statuses", "loss_reasons")


def land_amocrm(sandbox: Sandbox, raw_dir: Path, run_id: str, start: datetime, end: datetime):
    landing = RawLanding(raw_dir, "amocrm", run_id)
    extract_amocrm(
        SourceConnection(sandbox.amocrm.url, TOKEN),
        landing,
        updated_from=start,
        updated_to=end,
        page_size=PAGE_SIZE,
        client=fast_client("amocrm", sandbox.amocrm.url, READ_TIMEOUT),
    )
    return landing


def land_yandex(sandbox: Sandbox, raw_dir: Path) -> RawLanding:
    landing = RawLanding(raw_dir, "yandex_direct", "manual")
    options = YANDEX.options
    extract_yandex_direct(
        SourceConnection(sandbox.yandex.url, TOKEN),
        landing,
        date_from=WINDOW_FROM.date(),
        date_to=WINDOW_TO.date() - timedelta(days=1),
        client_login=options["client_login"],
        currency=options["currency"],
        time_zone=options["time_zone"],
        include_vat=options["include_vat"],
        client=fast_client("yandex_direct", sandbox.yandex.url, READ_TIMEOUT),
    )
    return landing


def versions(raw_dir: Path, source: str, entity: str) -> set[str]:
    """Every distinct version landed, load metadata left out."""
    return {
        json.dumps(
            {k: v for k, v in row.items() if not k.startswith("_")}, sort_keys=True, default=str
        )
        for row in landed_rows(raw_dir, source, entity)
    }


class Reference:
    """What a fault-free run lands, de-duplicated and version by version."""

    def __init__(self, raw_dir: Path, requests: int) -> None:
        self.raw_dir = raw_dir
        self.requests = requests  # both servers together
        self.records = {e: canonical(raw_dir, "amocrm", e) for e in AMOCRM_ENTITIES}
        self.records["campaign_stats"] = canonical(raw_dir, "yandex_direct", "campaign_stats")
        self.versions = {e: versions(raw_dir, "amocrm", e) for e in AMOCRM_ENTITIES}
        self.versions["campaign_stats"] = versions(raw_dir, "yandex_direct", "campaign_stats")


@pytest.fixture(scope="module")
def reference(dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    raw_dir = tmp_path_factory.mktemp("fault-free") / "raw"
    with running_sandbox(dataset) as sandbox:
        land_amocrm(sandbox, raw_dir, "manual", WINDOW_FROM, WINDOW_TO)
        land_yandex(sandbox, raw_dir)
        requests = sandbox.amocrm.request_count + sandbox.yandex.request_count
    return Reference(raw_dir, requests)


def leads_in_listing_order(dataset: Dataset) -> list[dict[str, Any]]:
    live = [lead for lead in dataset.leads if not lead["is_deleted"]]
    return sorted(live, key=lambda lead: (lead["updated_at"], lead["id"]))


def test_an_edit_during_the_listing_shifts_no_lead_past_the_reader(
    dataset: Dataset, reference: Reference, tmp_path: Path
) -> None:
    """Offset pages would lose the lead that slides back onto the page already read."""
    raw_dir = tmp_path / "raw"
    with running_sandbox(dataset) as sandbox:
        edited = leads_in_listing_order(sandbox.dataset)[3]  # on the first page
        move_lead_during_listing(
            sandbox.amocrm,
            sandbox.dataset,
            lead_id=edited["id"],
            updated_at=unix(WINDOW_TO) + 3600,  # edited now: after the window's end
            before_request=2,
        )
        land_amocrm(sandbox, raw_dir, "manual", WINDOW_FROM, WINDOW_TO)
    assert canonical(raw_dir, "amocrm", "leads") == reference.records["leads"]


def test_the_lead_edited_during_a_night_lands_the_next_night(
    dataset: Dataset, tmp_path: Path
) -> None:
    raw_dir = tmp_path / "raw"
    with running_sandbox(dataset) as sandbox:
        edited = leads_in_listing_order(sandbox.dataset)[3]
        edited_at = unix(WINDOW_TO) + 3600
        move_lead_during_listing(
            sandbox.amocrm,
            sandbox.dataset,
            lead_id=edited["id"],
            updated_at=edited_at,
            before_request=2,
        )
        land_amocrm(sandbox, raw_dir, "night-1", WINDOW_FROM, WINDOW_TO)
        next_night = WINDOW_TO + timedelta(days=1)
        land_amocrm(sandbox, raw_dir, "night-2", WINDOW_TO - timedelta(hours=1), next_night)
    landed = canonical(raw_dir, "amocrm", "leads")[(edited["id"],)]
    assert landed["updated_at"] == datetime.fromtimestamp(edited_at, UTC)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_fault_run_lands_what_a_fault_free_run_lands(
    seed: int, dataset: Dataset, reference: Reference, tmp_path: Path
) -> None:
    raw_dir = tmp_path / "raw"
    with running_sandbox(dataset) as sandbox:
        sandbox.amocrm.stall_seconds = sandbox.yandex.stall_seconds = STALL
        transport = (Fault.TIMEOUT, Fault.TRUNCATE)
        sandbox.amocrm.schedule(
            seeded_faults(
                2 * seed,
                requests=80,
                share=0.2,
                kinds=[*TRANSIENT_STATUSES, *transport],
                max_in_a_row=3,
            )
        )
        edited = leads_in_listing_order(sandbox.dataset)[seed]
        move_lead_during_listing(
            sandbox.amocrm,
            sandbox.dataset,
            lead_id=edited["id"],
            updated_at=unix(WINDOW_TO) + 3600,
            before_request=2 + seed % 3,
        )
        sandbox.yandex.schedule(
            seeded_faults(
                2 * seed + 1,
                requests=12,
                share=0.4,
                kinds=[*TRANSIENT_STATUSES, *transport, 202, 202],
                max_in_a_row=3,
            )
        )
        amocrm = land_amocrm(sandbox, raw_dir, "manual", WINDOW_FROM, WINDOW_TO)
        yandex = land_yandex(sandbox, raw_dir)
        requests = sandbox.amocrm.request_count + sandbox.yandex.request_count
        assert requests > reference.requests  # the plan's faults were in the way

    assert amocrm.quarantined == {} and yandex.quarantined == {}
    for entity in AMOCRM_ENTITIES:
        landed = canonical(raw_dir, "amocrm", entity)
        expected = dict(reference.records[entity])
        if entity == "leads" and (edited["id"],) not in landed:
            # edited before any request read it: it left the window, for the next night
            del expected[(edited["id"],)]
        assert landed == expected, f"seed {seed}: {entity} differ from a fault-free run"
        assert versions(raw_dir, "amocrm", entity) <= reference.versions[entity], entity
    stats = canonical(raw_dir, "yandex_direct", "campaign_stats")
    assert stats == reference.records["campaign_stats"], f"seed {seed}: ad stats differ"
    assert (
        versions(raw_dir, "yandex_direct", "campaign_stats") <= reference.versions["campaign_stats"]
    )


def test_a_sweep_that_fails_midway_lands_no_id_snapshot(dataset: Dataset, tmp_path: Path) -> None:
    with running_sandbox(dataset) as sandbox:
        sandbox.amocrm.schedule({3: 401})  # the third page of ids is refused
        landing = RawLanding(tmp_path, "amocrm", "manual")
        with pytest.raises(SourceAuthError):
            sweep_lead_ids(
                SourceConnection(sandbox.amocrm.url, TOKEN),
                landing,
                page_size=PAGE_SIZE,
                client=fast_client("amocrm", sandbox.amocrm.url, READ_TIMEOUT),
            )
    assert landed_rows(tmp_path, "amocrm", "lead_ids") == []
