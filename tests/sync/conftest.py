"""Fixtures of the sync tests: one generated dataset, a private sandbox per test, and
extractors paced for a sandbox without a rate limit (pacing has tests of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_testkit import Sandbox, running_sandbox

from extract import amocrm, yandex_direct
from funnelhouse.settings import Paths
from sandbox import Dataset, generate


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return generate(seed=5, n_leads=150)


@pytest.fixture
def sandbox(dataset: Dataset) -> Iterator[Sandbox]:
    with running_sandbox(dataset) as served:
        yield served


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(
        warehouse=tmp_path / "funnelhouse.duckdb",
        raw_dir=tmp_path / "raw",
        config=tmp_path / "funnelhouse.yml",
    )


@pytest.fixture(autouse=True)
def unpaced_extractors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(amocrm, "REQUESTS_PER_SECOND", 10_000)
    monkeypatch.setattr(yandex_direct, "REQUESTS_PER_WINDOW", 10_000)
