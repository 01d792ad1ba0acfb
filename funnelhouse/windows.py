"""Which records a run reads, derived from the run's data interval and the completed runs
before it (funnelhouse.runs), never from the clock.

- CRM, nightly: records updated since the end of the last completed nightly window less an
  overlap, up to the end of this run's interval; the whole history since `start_date` on
  a first run. A failed run records nothing, so the next one reads its window too.
- Ads, nightly: the lookback days before the interval ends (restated costs), reaching
  further back to the day after the last completed run when runs were missed.
- Backfill: the records updated on the days of its range, or those report days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
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


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def crm_updated_window(
    start_date: date,
    data_interval_end: datetime,
    *,
    read_until: datetime | None,
    overlap: timedelta,
) -> UpdatedWindow:
    """From the end of the last completed window (`read_until`) less `overlap`, or from
    `start_date` (UTC) when no run completed, to the end of the run's interval.

    The overlap reads again records whose update became visible late (a slow commit, a
    skewed clock); staging keeps one version of each.
    """
    if overlap < timedelta(0):
        raise ValueError(f"the overlap must not be negative, got {overlap}")
    history_start = _midnight(start_date, ZoneInfo("UTC"))
    start = history_start if read_until is None else max(history_start, read_until - overlap)
    if start >= data_interval_end:
        raise ValueError(
            f"nothing to read: the window would start at {start}, not before the interval "
            f"end {data_interval_end} (is start_date {start_date} in the future?)"
        )
    return UpdatedWindow(start=start, end=data_interval_end)


def ad_report_days(
    data_interval_end: datetime,
    account_time_zone: str,
    lookback_days: int,
    start_date: date,
    last_day_read: date | None,
) -> ReportDays:
    """The last complete report day and the `lookback_days` up to it, reaching back to
    the day after `last_day_read` when runs were missed; from `start_date` on a first run
    (`last_day_read` None).

    The last day is the account-local day before the interval ends, so a rerun of the same
    logical date reads the same days whenever it runs.
    """
    if lookback_days < 1:
        raise ValueError(f"lookback_days must be at least 1, got {lookback_days}")
    last = data_interval_end.astimezone(ZoneInfo(account_time_zone)).date() - timedelta(days=1)
    if last_day_read is None:
        first = start_date
    else:
        lookback_start = last - timedelta(days=lookback_days - 1)
        first = max(start_date, min(lookback_start, last_day_read + timedelta(days=1)))
    if first > last:
        raise ValueError(f"start_date {start_date} is after the last complete report day {last}")
    return ReportDays(first=first, last=last)


def sweep_due(
    deletions_checked_at: datetime | None, data_interval_end: datetime, every: timedelta
) -> bool:
    """Whether this run lists every lead id: `every` after the last check, or never
    checked. `every` of zero sweeps on every run."""
    if every < timedelta(0):
        raise ValueError(f"the sweep interval must not be negative, got {every}")
    return deletions_checked_at is None or data_interval_end - deletions_checked_at >= every


@dataclass(frozen=True)
class Backfill:
    """A backfill request: the days `date_from`..`date_to` (both included) read again.

    CRM records updated on those days in `time_zone` (the pipeline's) are read again, and
    so are the ad report days themselves (each in its account's zone). `sweep_lead_ids`
    also lists every lead id, so leads deleted without a trace are marked deleted.
    """

    date_from: date
    date_to: date
    time_zone: ZoneInfo
    sweep_lead_ids: bool = True

    def __post_init__(self) -> None:
        if self.date_from > self.date_to:
            raise ValueError(f"backfill date_from {self.date_from} is after date_to {self.date_to}")

    @classmethod
    def from_params(
        cls, date_from: str, date_to: str, time_zone: ZoneInfo, *, sweep_lead_ids: bool
    ) -> Backfill:
        """From the DAG's params: dates as YYYY-MM-DD text."""
        days = []
        for name, text in (("date_from", date_from), ("date_to", date_to)):
            try:
                days.append(date.fromisoformat(text))
            except (TypeError, ValueError):
                raise ValueError(f"backfill {name} {text!r} is not a YYYY-MM-DD date") from None
        return cls(days[0], days[1], time_zone, sweep_lead_ids)

    def check_starts_within_history(self, source: str, start_date: date) -> None:
        """Refuse a range that begins before the source's configured history."""
        if self.date_from < start_date:
            raise ValueError(
                f"{source}: backfill date_from {self.date_from} is before the source's "
                f"start_date {start_date}; move start_date back in funnelhouse.yml first"
            )

    def updated_window(self) -> UpdatedWindow:
        return UpdatedWindow(
            start=_midnight(self.date_from, self.time_zone).astimezone(UTC),
            end=_midnight(self.date_to + timedelta(days=1), self.time_zone).astimezone(UTC),
        )

    def report_days(self) -> ReportDays:
        return ReportDays(first=self.date_from, last=self.date_to)
