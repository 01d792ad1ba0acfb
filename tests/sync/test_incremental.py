"""Nightly runs through the extract task against the sandbox: cursors, overlap, a failed
night, deletions and the ad lookback. What landed is compared with what the sandbox
serves, read from its dataset."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sync_testkit import (
    AMOCRM,
    YANDEX,
    Sandbox,
    landed_costs,
    landed_leads,
    served_costs,
    served_leads,
    unix,
)

from extract.http import SourceAuthError
from extract.landing import run_key
from funnelhouse.runs import sync_state
from funnelhouse.settings import Paths, SourceConfig
from funnelhouse.tasks import extract_source

NIGHT_1 = datetime(2026, 7, 1, tzinfo=UTC)  # 03:00 Moscow, the night after the data ends


def night(day: int) -> datetime:
    """The end of the data interval of the run on the night to July `day` (00:00 UTC)."""
    return NIGHT_1 + timedelta(days=day - 1)


def run_nightly(
    sandbox: Sandbox, paths: Paths, source: SourceConfig, end: datetime
) -> dict[str, int]:
    return extract_source(
        source,
        run_id=f"scheduled__{end.isoformat()}",
        data_interval_end=end,
        connection=sandbox.connection(source),
        paths=paths,
    )


def manifest_path(paths: Paths, source: SourceConfig, end: datetime) -> Path:
    name = f"{run_key(f'scheduled__{end.isoformat()}')}.json"
    return paths.raw_dir / source.name / "_runs" / name


def manifest(paths: Paths, source: SourceConfig, end: datetime) -> dict:
    return json.loads(manifest_path(paths, source, end).read_text())


def edit_lead(sandbox: Sandbox, lead_id: int, updated_at: datetime, **changes: object) -> None:
    sandbox.lead(lead_id).update(updated_at=unix(updated_at), **changes)


def live_ids(leads: dict[int, tuple]) -> set[int]:
    return {lead_id for lead_id, (*_, deleted) in leads.items() if not deleted}


def test_first_night_loads_the_history_then_each_night_reads_on_from_the_cursor(
    sandbox: Sandbox, paths: Paths
) -> None:
    first = run_nightly(sandbox, paths, AMOCRM, night(1))
    assert manifest(paths, AMOCRM, night(1))["updated_from"] == "2026-01-01T00:00:00+00:00"
    assert first["leads"] == len(sandbox.dataset.leads)
    assert landed_leads(paths.raw_dir) == served_leads(sandbox.dataset)

    edited, late = (lead["id"] for lead in sandbox.dataset.leads[10:12])
    edit_lead(sandbox, edited, night(1) + timedelta(hours=10), price=777_000)
    # committed late: stamped 30 minutes before night 1 ended, visible only after it ran
    edit_lead(sandbox, late, night(1) - timedelta(minutes=30), price=555_000)
    second = run_nightly(sandbox, paths, AMOCRM, night(2))

    window = manifest(paths, AMOCRM, night(2))
    assert (window["updated_from"], window["updated_to"]) == (
        (night(1) - timedelta(hours=1)).isoformat(),  # the cursor less the default overlap
        night(2).isoformat(),
    )
    start, end = night(1) - timedelta(hours=1), night(2)
    in_window = [
        lead for lead in sandbox.dataset.leads if unix(start) <= lead["updated_at"] < unix(end)
    ]
    assert {edited, late} <= {lead["id"] for lead in in_window}
    assert second["leads"] == len(in_window) < 10  # the edits and the overlap, not the history
    assert landed_leads(paths.raw_dir) == served_leads(sandbox.dataset)


def test_a_failed_night_moves_no_cursor_so_the_next_night_reads_its_window_too(
    sandbox: Sandbox, paths: Paths
) -> None:
    run_nightly(sandbox, paths, AMOCRM, night(1))
    during_failed_night, next_day = (lead["id"] for lead in sandbox.dataset.leads[20:22])
    edit_lead(sandbox, during_failed_night, night(1) + timedelta(hours=5), price=1)
    sandbox.amocrm.inject("/api/v4/contacts", [401])  # after the night's leads landed
    with pytest.raises(SourceAuthError):
        run_nightly(sandbox, paths, AMOCRM, night(2))
    assert not manifest_path(paths, AMOCRM, night(2)).exists()
    state = sync_state(paths.raw_dir, "amocrm", until=night(3), exclude_run_id="any")
    assert state.updated_to == night(1)

    edit_lead(sandbox, next_day, night(2) + timedelta(hours=5), price=2)
    run_nightly(sandbox, paths, AMOCRM, night(3))
    assert (
        manifest(paths, AMOCRM, night(3))["updated_from"]
        == (night(1) - timedelta(hours=1)).isoformat()
    )
    assert landed_leads(paths.raw_dir) == served_leads(sandbox.dataset)


def test_deletions_leave_by_the_deleted_listing_or_by_the_weekly_id_sweep(
    sandbox: Sandbox, paths: Paths
) -> None:
    run_nightly(sandbox, paths, AMOCRM, night(1))
    visible, silent, purged = (lead["id"] for lead in sandbox.dataset.leads[30:33])
    edit_lead(sandbox, visible, night(1) + timedelta(hours=2), is_deleted=True)
    sandbox.lead(silent)["is_deleted"] = True  # deleted, its updated_at left as it was
    sandbox.dataset.leads.remove(sandbox.lead(purged))  # deleted, and the trash emptied

    run_nightly(sandbox, paths, AMOCRM, night(2))
    assert manifest(paths, AMOCRM, night(2))["lead_ids_swept"] is False  # a week not yet over
    landed = landed_leads(paths.raw_dir)
    assert landed[visible][-1] is True
    assert not landed[silent][-1] and not landed[purged][-1]  # unseen so far

    counts = run_nightly(sandbox, paths, AMOCRM, night(8))
    assert manifest(paths, AMOCRM, night(8))["lead_ids_swept"] is True
    assert counts["lead_ids"] == sum(not lead["is_deleted"] for lead in sandbox.dataset.leads)
    landed = landed_leads(paths.raw_dir)
    assert live_ids(landed) == live_ids(served_leads(sandbox.dataset))
    assert {visible, silent, purged}.isdisjoint(live_ids(landed))


def test_a_sweep_every_night_when_configured_so(sandbox: Sandbox, paths: Paths) -> None:
    every_night = replace(AMOCRM, options={**AMOCRM.options, "sweep_every_days": 0})
    run_nightly(sandbox, paths, every_night, night(1))
    assert manifest(paths, every_night, night(1))["lead_ids_swept"] is False  # a first load
    run_nightly(sandbox, paths, every_night, night(2))
    assert manifest(paths, every_night, night(2))["lead_ids_swept"] is True


def test_ads_reread_the_lookback_so_a_restated_day_replaces_its_old_cost(
    sandbox: Sandbox, paths: Paths
) -> None:
    run_nightly(sandbox, paths, YANDEX, night(1))
    first = manifest(paths, YANDEX, night(1))
    assert (first["date_from"], first["date_to"]) == ("2026-01-01", "2026-06-30")
    assert landed_costs(paths.raw_dir) == served_costs(sandbox.dataset)

    restated = next(row for row in sandbox.dataset.ad_stats if row["Date"] == "2026-06-29")
    too_old = next(row for row in sandbox.dataset.ad_stats if row["Date"] == "2026-06-20")
    old_cost = landed_costs(paths.raw_dir)[(date(2026, 6, 20), too_old["CampaignId"])]
    restated["Cost"] += 1_500_000
    too_old["Cost"] += 1_500_000
    run_nightly(sandbox, paths, YANDEX, night(2))

    second = manifest(paths, YANDEX, night(2))
    assert (second["date_from"], second["date_to"]) == ("2026-06-29", "2026-07-01")
    costs = landed_costs(paths.raw_dir)
    assert (
        costs[(date(2026, 6, 29), restated["CampaignId"])]
        == served_costs(sandbox.dataset)[(date(2026, 6, 29), restated["CampaignId"])]
    )
    # beyond the lookback a restatement waits for a backfill
    assert costs[(date(2026, 6, 20), too_old["CampaignId"])] == old_cost


def test_ads_after_missed_nights_reach_back_to_the_day_after_the_last_one_read(
    sandbox: Sandbox, paths: Paths
) -> None:
    run_nightly(sandbox, paths, YANDEX, night(1))
    run_nightly(sandbox, paths, YANDEX, night(7))  # five nights never ran
    days = manifest(paths, YANDEX, night(7))
    assert (days["date_from"], days["date_to"]) == ("2026-07-01", "2026-07-06")


def test_a_rerun_of_a_night_reads_what_its_first_run_read(sandbox: Sandbox, paths: Paths) -> None:
    for day in (1, 2, 3):
        run_nightly(sandbox, paths, AMOCRM, night(day))
    run_nightly(sandbox, paths, AMOCRM, night(2))  # cleared and run again after night 3
    window = manifest(paths, AMOCRM, night(2))
    assert window["updated_from"] == (night(1) - timedelta(hours=1)).isoformat()
    assert window["updated_to"] == night(2).isoformat()
