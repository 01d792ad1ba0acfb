"""Fixtures of the gate and publication tests over a real warehouse.

`reference` is the sandbox's reference case after one nightly run (extract, phones, dbt
build, quality gate, publication), built once per session; tests copy it before changing
anything. Expected numbers come from the sandbox's planted truth, never from the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_kit import LEADS, SEED, TOKEN, Pipeline

from sandbox import Dataset, generate, start_amocrm, start_yandex_direct


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return generate(seed=SEED, n_leads=LEADS)


@pytest.fixture(scope="session")
def sandbox_urls(dataset: Dataset) -> Iterator[dict[str, str]]:
    with (
        start_amocrm(dataset, token=TOKEN, max_requests_per_second=1000) as amocrm,
        start_yandex_direct(dataset, token=TOKEN, polls_before_ready=0) as yandex,
    ):
        yield {"amocrm": amocrm.url, "yandex_direct": yandex.url}


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, sandbox_urls: dict[str, str]) -> Pipeline:
    """The reference case after night 1, which passes the gate with warnings and publishes."""
    pipeline = Pipeline(tmp_path_factory.mktemp("reference"), sandbox_urls)
    pipeline.extract(1)
    pipeline.build()
    pipeline.gate(1)
    pipeline.publish(1, gate_state="success")
    return pipeline


@pytest.fixture
def pipeline(reference: Pipeline, tmp_path: Path) -> Pipeline:
    """A copy of the reference pipeline of the test's own."""
    return reference.copy_to(tmp_path / "pipeline")
