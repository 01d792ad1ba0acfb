"""Long extractions log their progress: pages, records, rate, and time left where known."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sync_testkit import TOKEN, Sandbox, fast_client

from extract.amocrm import extract_amocrm
from extract.connection import SourceConnection
from extract.landing import RawLanding
from extract.progress import Progress


def test_time_left_is_the_elapsed_time_scaled_by_the_share_still_to_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    progress = Progress("amocrm", "leads", clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="extract.progress"):
        now[0] = 110.0
        progress.page(250, done=0.25)
        now[0] = 120.0
        progress.page(250)  # the share done unknown: no estimate
        progress.finish()
    first, second, summary = (record.getMessage() for record in caplog.records)
    assert first == (
        "amocrm leads: page 1, 250 records so far "
        "(25.0 records/s, 10.0 s elapsed, 25% done, about 30 s left)"
    )
    assert second == "amocrm leads: page 2, 500 records so far (25.0 records/s, 20.0 s elapsed)"
    assert summary == "amocrm leads: done, 500 records in 2 pages (25.0 records/s, 20.0 s elapsed)"


def test_a_listing_by_update_time_reports_its_progress_through_the_window(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="extract.progress"):
        extract_amocrm(
            SourceConnection(sandbox.amocrm.url, TOKEN),
            RawLanding(tmp_path, "amocrm", "manual"),
            updated_from=datetime(2026, 1, 1, tzinfo=UTC),
            updated_to=datetime(2026, 7, 1, tzinfo=UTC),
            page_size=30,
            client=fast_client("amocrm", sandbox.amocrm.url, read_timeout=5.0),
        )
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("amocrm leads:")]
    live = lines[: next(i for i, line in enumerate(lines) if ": done," in line)]
    assert len(live) >= 5  # the live leads' pages, before the deleted ones'
    assert all("records/s" in line and "% done, about" in line for line in live)
    shares = [int(re.search(r"(\d+)% done", line).group(1)) for line in live]
    assert shares == sorted(shares) and shares[-1] > 90  # on through the window to its end
