"""Progress lines every extractor logs the same way: pages, records, rate, elapsed time."""

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

    def page(self, records: int) -> None:
        self.pages += 1
        self.records += records
        log.info(
            "%s %s: page %d, %d records so far (%s)",
            self.source,
            self.entity,
            self.pages,
            self.records,
            self._rate(),
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

    def _rate(self) -> str:
        elapsed = self._clock() - self._started
        rate = self.records / elapsed if elapsed > 0 else 0.0
        return f"{rate:.1f} records/s, {elapsed:.1f} s elapsed"
