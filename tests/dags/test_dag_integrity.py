"""Every DAG imports cleanly and has the schedule and tasks the README promises."""

import copy
from datetime import timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import ParamValidationError

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
    assert set(dag.task_ids) == {
        "extract", "validate_phones", "dbt_build", "quality_gate", "publish"
    }  # fmt: skip
    assert dag.get_task("extract").retries >= 1
    assert dag.get_task("validate_phones").upstream_task_ids == {"extract"}
    assert dag.get_task("dbt_build").upstream_task_ids == {"validate_phones"}
    assert dag.get_task("quality_gate").upstream_task_ids == {"dbt_build"}
    # mart_data_quality is published after every run, passing or failing.
    assert dag.get_task("publish").upstream_task_ids == {"quality_gate"}
    assert dag.get_task("publish").trigger_rule == "all_done"
    for task_id in ("validate_phones", "dbt_build", "quality_gate", "publish"):
        assert dag.get_task(task_id).pool == WAREHOUSE_POOL
    assert dag.get_task("extract").pool != WAREHOUSE_POOL


def test_extract_is_mapped_over_the_enabled_sources(dagbag: DagBag) -> None:
    extract = dagbag.dags["funnel_nightly"].get_task("extract")
    mapped_over = extract.op_kwargs_expand_input.value["source_name"]
    assert list(mapped_over) == [source.name for source in load_config().sources]


def _backfill_params(dagbag: DagBag, **values: object) -> dict[str, object]:
    """The backfill's params resolved with `values` as a trigger's conf would give them."""
    params = copy.deepcopy(dagbag.dags["funnel_backfill"].params)
    params.update(values)
    return params.validate()


def test_backfill_runs_only_when_triggered(dagbag: DagBag) -> None:
    dag = dagbag.dags["funnel_backfill"]
    assert not dag.timetable.can_be_scheduled  # schedule=None: no run of its own
    assert dag.catchup is False
    assert dag.max_active_runs == 1


def test_backfill_params_take_a_date_range_and_default_to_every_source(dagbag: DagBag) -> None:
    resolved = _backfill_params(dagbag, date_from="2026-03-01", date_to="2026-03-31")
    assert resolved == {
        "date_from": "2026-03-01",
        "date_to": "2026-03-31",
        "sources": [source.name for source in load_config().sources],
        "sweep_lead_ids": True,
    }


@pytest.mark.parametrize(
    "values",
    [
        {"date_to": "2026-03-31"},  # no start
        {"date_from": "2026-03-01", "date_to": "31.03.2026"},
        {"date_from": "2026-02-30", "date_to": "2026-03-31"},
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "sources": []},
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "sources": ["salesforce"]},  # unknown
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "sources": ["amocrm", "amocrm"]},
    ],
)
def test_backfill_params_refuse_what_cannot_be_run(
    dagbag: DagBag, values: dict[str, object]
) -> None:
    with pytest.raises(ParamValidationError):
        _backfill_params(dagbag, **values)


def test_backfill_extracts_each_source_once_then_builds_the_warehouse_once(
    dagbag: DagBag,
) -> None:
    dag = dagbag.dags["funnel_backfill"]
    assert set(dag.task_ids) == {
        "plan",
        "extract",
        "validate_phones",
        "dbt_build",
        "quality_gate",
        "publish",
    }
    extract = dag.get_task("extract")
    assert extract.upstream_task_ids == {"plan"}
    assert extract.retries >= 1
    assert extract.pool != WAREHOUSE_POOL
    # one mapped extraction per source the plan returns, not one per day
    assert extract.op_kwargs_expand_input.value["source_name"].operator.task_id == "plan"
    assert dag.get_task("validate_phones").upstream_task_ids == {"extract"}
    assert dag.get_task("dbt_build").upstream_task_ids == {"validate_phones"}
    assert dag.get_task("quality_gate").upstream_task_ids == {"dbt_build"}
    assert dag.get_task("publish").upstream_task_ids == {"quality_gate"}
    assert dag.get_task("publish").trigger_rule == "all_done"  # a failed gate publishes too
    for task_id in ("validate_phones", "dbt_build", "quality_gate", "publish"):
        assert dag.get_task(task_id).pool == WAREHOUSE_POOL
