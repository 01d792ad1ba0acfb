"""What a run reads, as pure functions of its interval and the completed runs' manifests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from funnelhouse.runs import BACKFILL, NIGHTLY, SyncState, sync_state, write_manifest
from funnelhouse.windows import Backfill, ad_report_days, crm_updated_window, sweep_due

MOSCOW = ZoneInfo("Europe/Moscow")
START = date(2026, 1, 1)
NIGHT = datetime(2026, 7, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_crm_reads_on_from_the_cursor_less_the_overlap() -> None:
    window = crm_updated_window(START, NIGHT, read_until=NIGHT - timedelta(days=1), overlap=HOUR)
    assert (window.start, window.end) == (NIGHT - timedelta(days=1) - HOUR, NIGHT)


def test_crm_overlap_never_reaches_before_the_start_date() -> None:
    early = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    window = crm_updated_window(START, NIGHT, read_until=early, overlap=HOUR)
    assert window.start == datetime(2026, 1, 1, tzinfo=UTC)


def test_crm_windows_that_read_nothing_are_refused() -> None:
    with pytest.raises(ValueError, match="in the future"):
        crm_updated_window(date(2026, 8, 1), NIGHT, read_until=None, overlap=HOUR)
    with pytest.raises(ValueError, match="negative"):
        crm_updated_window(START, NIGHT, read_until=None, overlap=-HOUR)


@pytest.mark.parametrize(
    ("last_day_read", "first"),
    [
        (date(2026, 6, 29), date(2026, 6, 28)),  # the usual night: the three-day lookback
        (date(2026, 6, 23), date(2026, 6, 24)),  # six nights missed: back to the gap
        (date(2026, 7, 5), date(2026, 6, 28)),  # a rerun of an older night: the lookback
    ],
)
def test_ads_read_the_lookback_or_from_the_day_after_the_last_read(
    last_day_read: date, first: date
) -> None:
    days = ad_report_days(NIGHT, "Europe/Moscow", 3, START, last_day_read)
    assert (days.first, days.last) == (first, date(2026, 6, 30))


def test_the_sweep_is_due_once_its_interval_has_passed() -> None:
    week = timedelta(days=7)
    assert sweep_due(None, NIGHT, week)
    assert not sweep_due(NIGHT - timedelta(days=6), NIGHT, week)
    assert sweep_due(NIGHT - week, NIGHT, week)
    assert sweep_due(NIGHT, NIGHT, timedelta(0))
    with pytest.raises(ValueError, match="negative"):
        sweep_due(None, NIGHT, -week)


def test_a_backfill_reads_whole_days_of_the_pipeline_zone() -> None:
    march = Backfill(date(2026, 3, 1), date(2026, 3, 31), MOSCOW)
    window = march.updated_window()
    assert (window.start, window.end) == (
        datetime(2026, 2, 28, 21, tzinfo=UTC),
        datetime(2026, 3, 31, 21, tzinfo=UTC),
    )
    days = march.report_days()
    assert (days.first, days.last) == (date(2026, 3, 1), date(2026, 3, 31))


def test_backfill_ranges_that_cannot_be_read_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="date_from 2026-04-01 is after date_to 2026-03-31"):
        Backfill.from_params("2026-04-01", "2026-03-31", MOSCOW, sweep_lead_ids=False)
    with pytest.raises(ValueError, match=r"date_to '31\.03\.2026' is not a YYYY-MM-DD date"):
        Backfill.from_params("2026-03-01", "31.03.2026", MOSCOW, sweep_lead_ids=False)
    early = Backfill(date(2025, 12, 1), date(2026, 1, 31), MOSCOW)
    with pytest.raises(ValueError, match=r"amocrm: .* before the source's start_date 2026-01-01"):
        early.check_starts_within_history("amocrm", START)


def _night(raw_dir: Path, run_id: str, end: datetime, **details: str) -> None:
    write_manifest(
        raw_dir, "amocrm", run_id, NIGHTLY, {"data_interval_end": end.isoformat(), **details}
    )


def test_only_completed_nightly_runs_of_earlier_intervals_move_the_cursors(tmp_path: Path) -> None:
    night_1, night_2 = NIGHT, NIGHT + timedelta(days=1)
    checked = night_1.isoformat()
    _night(
        tmp_path,
        "night-1",
        night_1,
        updated_to=checked,
        deletions_checked_at=checked,
        date_to="2026-06-30",
    )
    _night(tmp_path, "night-2", night_2, updated_to=night_2.isoformat(), date_to="2026-07-01")
    write_manifest(
        tmp_path,
        "amocrm",
        "backfill",
        BACKFILL,
        {"data_interval_end": night_2.isoformat(), "updated_to": "2026-08-01T00:00:00+00:00"},
    )
    (tmp_path / "amocrm" / "_runs" / "old.json").write_text('{"run_id": "old"}')  # no kind

    assert sync_state(tmp_path, "amocrm", until=night_2, exclude_run_id="night-3") == SyncState(
        updated_to=night_2, last_report_day=date(2026, 7, 1), deletions_checked_at=night_1
    )
    # a rerun of night 2 reads on from night 1, as its first run did
    assert sync_state(tmp_path, "amocrm", until=night_2, exclude_run_id="night-2") == SyncState(
        updated_to=night_1, last_report_day=date(2026, 6, 30), deletions_checked_at=night_1
    )
    assert sync_state(tmp_path, "amocrm", until=night_1 - HOUR, exclude_run_id="x") == SyncState()


def test_an_unreadable_manifest_is_an_error_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "amocrm" / "_runs"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"amocrm: run manifest .*broken\.json cannot be read"):
        sync_state(tmp_path, "amocrm", until=NIGHT, exclude_run_id="x")


def test_a_manifest_names_its_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run kind"):
        write_manifest(tmp_path, "amocrm", "run", "weekly", {})
