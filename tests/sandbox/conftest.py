from collections.abc import Iterator

import pytest
import requests

from sandbox import Dataset, RunningServer, generate, start_amocrm, start_yandex_direct

TOKEN = "test-token"


@pytest.fixture(scope="session")
def token() -> str:
    return TOKEN


@pytest.fixture(scope="session")
def reference() -> Dataset:
    """The reference case users get from `python -m sandbox serve`."""
    return generate()


@pytest.fixture(scope="session")
def small() -> Dataset:
    return generate(seed=7, n_leads=300)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        yield session


@pytest.fixture
def amocrm(small: Dataset) -> Iterator[RunningServer]:
    """An amoCRM server without a practical rate limit, so tests may page quickly."""
    with start_amocrm(small, token=TOKEN, max_requests_per_second=10_000) as server:
        yield server


@pytest.fixture
def yandex(small: Dataset) -> Iterator[RunningServer]:
    with start_yandex_direct(small, token=TOKEN, polls_before_ready=0) as server:
        yield server
