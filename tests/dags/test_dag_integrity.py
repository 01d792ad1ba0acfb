"""Every DAG imports cleanly and has the schedule and tasks the README promises."""

from datetime import timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag

from funnelhouse.settings import PROJECT_ROOT, WAREHOUSE_POOL, load_config


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_every_dag_imports(dagbag: DagBag) -> None:
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG found in dags/"


def test_nightly_runs_at_three_in_the_configured_zone_with_a_day_long_interval(
    dagbag: DagBag,
) -> None:
    dag = dagbag.dags["funnel_nightly"]
    assert dag.catchup is False
    # A cron schedule gets a zero-length data interval unless the timetable is chosen on purpose.
    timetable = dag.timetable
    assert type(timetable).__name__ == "CronTriggerTimetable"
    assert timetable.expression == "0 3 * * *"
    assert str(timetable.timezone) == "Europe/Moscow"
    assert timetable.interval == timedelta(days=1)


def test_nightly_wires_extracts_before_the_warehouse_tasks(dagbag: DagBag) -> None:
    dag = dagbag.dags["funnel_nightly"]
    assert set(dag.task_ids) == {"extract", "validate_phones", "dbt_build", "quality_gate"}
    assert dag.get_task("extract").retries >= 1
    assert dag.get_task("validate_phones").upstream_task_ids == {"extract"}
    assert dag.get_task("dbt_build").upstream_task_ids == {"validate_phones"}
    assert dag.get_task("quality_gate").upstream_task_ids == {"dbt_build"}
    for task_id in ("validate_phones", "dbt_build", "quality_gate"):
        assert dag.get_task(task_id).pool == WAREHOUSE_POOL
    assert dag.get_task("extract").pool != WAREHOUSE_POOL


def test_extract_is_mapped_over_the_enabled_sources(dagbag: DagBag) -> None:
    extract = dagbag.dags["funnel_nightly"].get_task("extract")
    mapped_over = extract.op_kwargs_expand_input.value["source_name"]
    assert list(mapped_over) == [source.name for source in load_config().sources]
