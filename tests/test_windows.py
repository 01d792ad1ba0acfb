from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from funnelhouse.windows import ad_report_days, crm_updated_window

MOSCOW = ZoneInfo("Europe/Moscow")
UTC = ZoneInfo("UTC")
READ_BEFORE = date(2026, 6, 29)  # the last day the previous night read


def test_lookback_counts_back_from_the_interval_end_in_the_account_zone() -> None:
    # 03:00 Moscow on July 1st is 00:00 UTC: the last complete Moscow day is June 30.
    end = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    days = ad_report_days(end, "Europe/Moscow", 3, date(2026, 1, 1), last_day_read=READ_BEFORE)
    assert (days.first, days.last) == (date(2026, 6, 28), date(2026, 6, 30))


def test_account_zone_decides_the_last_day() -> None:
    # 23:30 UTC on June 30 is already July 1 in Moscow, still June 30 in New York.
    end = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)
    assert ad_report_days(end, "Europe/Moscow", 1, date(2026, 1, 1), READ_BEFORE).last == date(
        2026, 6, 30
    )
    assert ad_report_days(end, "America/New_York", 1, date(2026, 1, 1), READ_BEFORE).last == date(
        2026, 6, 29
    )


def test_first_run_reads_the_whole_history_and_lookback_never_precedes_start() -> None:
    end = datetime(2026, 1, 3, 3, tzinfo=MOSCOW)
    assert ad_report_days(end, "Europe/Moscow", 3, date(2025, 12, 1), None).first == date(
        2025, 12, 1
    )
    days = ad_report_days(end, "Europe/Moscow", 30, date(2026, 1, 1), date(2026, 1, 1))
    assert days.first == date(2026, 1, 1)


def test_bad_windows_are_refused() -> None:
    end = datetime(2026, 1, 3, 3, tzinfo=MOSCOW)
    with pytest.raises(ValueError, match="lookback_days"):
        ad_report_days(end, "Europe/Moscow", 0, date(2026, 1, 1), READ_BEFORE)
    with pytest.raises(ValueError, match="after the last complete report day"):
        ad_report_days(end, "Europe/Moscow", 3, date(2026, 2, 1), None)


def test_crm_history_starts_at_the_configured_date_in_utc() -> None:
    window = crm_updated_window(
        date(2026, 1, 1),
        datetime(2026, 7, 1, tzinfo=UTC),
        read_until=None,
        overlap=timedelta(hours=1),
    )
    assert window.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert window.end == datetime(2026, 7, 1, tzinfo=UTC)
