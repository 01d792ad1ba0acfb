"""Backfills through the extract task against the sandbox: the result equals a fresh full
load, a second backfill of the range changes nothing, and the nightly cursor stays put."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sync_testkit import (
    AMOCRM,
    YANDEX,
    Sandbox,
    everything,
    landed_costs,
    landed_leads,
    served_costs,
    served_leads,
)

from funnelhouse.runs import sync_state
from funnelhouse.settings import Paths
from funnelhouse.tasks import extract_source
from funnelhouse.windows import Backfill

MOSCOW = ZoneInfo("Europe/Moscow")
NIGHT_1 = datetime(2026, 7, 1, tzinfo=UTC)
NIGHT_2 = NIGHT_1 + timedelta(days=1)
MARCH = Backfill(date(2026, 3, 1), date(2026, 3, 31), MOSCOW)


def run_nightly(sandbox: Sandbox, paths: Paths, end: datetime) -> None:
    for source in (AMOCRM, YANDEX):
        extract_source(
            source,
            run_id=f"scheduled__{end.isoformat()}",
            data_interval_end=end,
            connection=sandbox.connection(source),
            paths=paths,
        )


def run_backfill(
    sandbox: Sandbox,
    paths: Paths,
    run_id: str,
    backfill: Backfill,
    data_interval_end: datetime | None = None,  # a manual run may have none
) -> None:
    for source in (AMOCRM, YANDEX):
        extract_source(
            source,
            run_id=run_id,
            data_interval_end=data_interval_end,
            backfill=backfill,
            connection=sandbox.connection(source),
            paths=paths,
        )


def in_march(moment: int) -> bool:
    window = MARCH.updated_window()
    return window.start.timestamp() <= moment < window.end.timestamp()


def change_march_silently(sandbox: Sandbox) -> None:
    """Changes no nightly run sees: updates that kept their update time, a lead deleted
    with the trash emptied since, and ad costs restated long after the lookback."""
    march = [lead for lead in sandbox.dataset.leads if in_march(lead["updated_at"])]
    assert len(march) > 5, "the dataset should have leads updated in March"
    for lead in march[:3]:
        lead["price"] += 1_000
    sandbox.dataset.leads.remove(march[3])
    for row in sandbox.dataset.ad_stats:
        if row["Date"].startswith("2026-03-1"):
            row["Cost"] += 250_000


def live(records: dict[tuple[str, str], dict[tuple[Any, ...], dict[str, Any]]]) -> dict:
    """Every entity's records, deleted leads left out (a fresh load never saw the purged)."""
    return {
        entity: {
            key: row
            for key, row in rows.items()
            if entity != ("amocrm", "leads") or not row["is_deleted"]
        }
        for entity, rows in records.items()
    }


def test_a_backfill_equals_a_fresh_full_load_and_twice_changes_nothing(
    sandbox: Sandbox, paths: Paths, tmp_path: Path
) -> None:
    run_nightly(sandbox, paths, NIGHT_1)
    change_march_silently(sandbox)
    run_nightly(sandbox, paths, NIGHT_2)
    assert landed_costs(paths.raw_dir) != served_costs(sandbox.dataset)  # unseen at night

    run_backfill(sandbox, paths, "manual__backfill-1", MARCH)
    after_backfill = everything(paths.raw_dir)
    fresh = Paths(paths.warehouse, tmp_path / "fresh", paths.config)
    run_nightly(sandbox, fresh, NIGHT_2)  # a first run: the whole history
    assert live(after_backfill) == live(everything(fresh.raw_dir))
    # and both are what the source holds now
    landed = landed_leads(paths.raw_dir)
    served = served_leads(sandbox.dataset)
    assert {k: v for k, v in landed.items() if not v[-1]} == {
        k: v for k, v in served.items() if not v[-1]
    }
    assert landed_costs(paths.raw_dir) == served_costs(sandbox.dataset)

    run_backfill(sandbox, paths, "manual__backfill-2", MARCH)
    assert everything(paths.raw_dir) == after_backfill


def test_a_backfill_moves_no_nightly_cursor(sandbox: Sandbox, paths: Paths) -> None:
    run_nightly(sandbox, paths, NIGHT_1)
    later = NIGHT_2 + timedelta(days=1)

    def cursors() -> list[object]:
        states = [
            sync_state(paths.raw_dir, s, until=later, exclude_run_id="next")
            for s in ("amocrm", "yandex_direct")
        ]
        return [states[0].updated_to, states[0].deletions_checked_at, states[1].last_report_day]

    assert cursors() == [NIGHT_1, NIGHT_1, date(2026, 6, 30)]
    # a backfill reaching past the last night, triggered after it, sweeping ids too
    june = Backfill(date(2026, 6, 1), date(2026, 7, 1), MOSCOW)
    run_backfill(sandbox, paths, "manual__backfill", june, data_interval_end=NIGHT_2)
    assert cursors() == [NIGHT_1, NIGHT_1, date(2026, 6, 30)]


def test_a_second_backfill_of_a_range_reads_costs_restated_since_the_first(
    sandbox: Sandbox, paths: Paths
) -> None:
    """Yandex serves a stored report again by its name: each run must ask for its own."""
    first_half_of_march = Backfill(date(2026, 3, 1), date(2026, 3, 15), MOSCOW)
    run_backfill(sandbox, paths, "manual__backfill-1", first_half_of_march)
    for row in sandbox.dataset.ad_stats:
        if row["Date"] == "2026-03-10":
            row["Cost"] *= 2
    run_backfill(sandbox, paths, "manual__backfill-2", first_half_of_march)
    assert landed_costs(paths.raw_dir) == {
        key: cost
        for key, cost in served_costs(sandbox.dataset).items()
        if date(2026, 3, 1) <= key[0] <= date(2026, 3, 15)
    }
