"""Which records a run reads, derived from the run's data interval, never from the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class UpdatedWindow:
    """CRM records whose update time falls in [start, end)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class ReportDays:
    """Ad report days, both ends included, in the ad account's time zone."""

    first: date
    last: date


def crm_full_history(start_date: date, data_interval_end: datetime) -> UpdatedWindow:
    """Everything updated since the configured start date, up to the end of the run's interval."""
    start = datetime.combine(start_date, time.min, tzinfo=ZoneInfo("UTC"))
    return UpdatedWindow(start=start, end=data_interval_end)


def ad_report_days(
    data_interval_end: datetime,
    account_time_zone: str,
    lookback_days: int,
    start_date: date,
    first_run: bool,
) -> ReportDays:
    """The last complete report day and the lookback before it; the whole history on a first run.

    The last day is the account-local day before the interval ends, so a rerun of the same
    logical date reads the same days whenever it runs.
    """
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be at least 1, got {lookback_days}")
    last = data_interval_end.astimezone(ZoneInfo(account_time_zone)).date() - timedelta(days=1)
    first = start_date if first_run else max(start_date, last - timedelta(days=lookback_days - 1))
    if first > last:
        raise ValueError(f"start_date {start_date} is after the last complete report day {last}")
    return ReportDays(first=first, last=last)
