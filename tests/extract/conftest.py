"""Fixtures of the extractor tests (the doubles themselves live in extract_testkit)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from extract_testkit import FakeClock, ScriptedServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.stop()
