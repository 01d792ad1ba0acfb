"""Progress lines every extractor logs the same way: pages, records, rate, elapsed time,
and the time left where the share of the work done is known."""

from __future__ import annotations

import time
from collections.abc import Callable

from extract.http import get_logger

log = get_logger(__name__)


class Progress:
    """Counts pages and records of one entity and logs a line per page and a summary."""

    def __init__(
        self, source: str, entity: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.source = source
        self.entity = entity
        self.pages = 0
        self.records = 0
        self._clock = clock
        self._started = clock()

    def page(self, records: int, *, done: float | None = None) -> None:
        """Count a page; `done` is the share of the whole listing covered so far, if known."""
        self.pages += 1
        self.records += records
        log.info(
            "%s %s: page %d, %d records so far (%s%s)",
            self.source,
            self.entity,
            self.pages,
            self.records,
            self._rate(),
            self._time_left(done),
        )

    def finish(self) -> None:
        log.info(
            "%s %s: done, %d records in %d pages (%s)",
            self.source,
            self.entity,
            self.records,
            self.pages,
            self._rate(),
        )

    def _time_left(self, done: float | None) -> str:
        """Elapsed time scaled by the share still to do: a linear estimate."""
        if done is None or not 0 < done <= 1:
            return ""
        left = (self._clock() - self._started) * (1 - done) / done
        return f", {done:.0%} done, about {left:.0f} s left"

    def _rate(self) -> str:
        elapsed = self._clock() - self._started
        rate = self.records / elapsed if elapsed > 0 else 0.0
        return f"{rate:.1f} records/s, {elapsed:.1f} s elapsed"
