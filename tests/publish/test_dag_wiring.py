"""The nightly DAG publishes after every run and alerts from every task."""

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG

from funnelhouse.alerts import notify_failure
from funnelhouse.settings import PROJECT_ROOT, WAREHOUSE_POOL


@pytest.fixture(scope="module")
def nightly() -> DAG:
    dagbag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "funnel_nightly.py"))
    assert dagbag.import_errors == {}
    return dagbag.dags["funnel_nightly"]


def test_publish_runs_after_the_gate_whatever_happened_before(nightly: DAG) -> None:
    publish = nightly.get_task("publish")
    assert publish.upstream_task_ids == {"quality_gate"}
    assert publish.trigger_rule == "all_done"
    assert publish.pool == WAREHOUSE_POOL
    assert publish.downstream_task_ids == set()


def test_every_task_alerts_on_failure(nightly: DAG) -> None:
    for task in nightly.tasks:
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert notify_failure in callbacks, task.task_id
