"""Nightly refresh: extract every enabled source, validate phones, build dbt, run the
quality gate, publish.

Extract tasks only write Parquet files and run in parallel; the tasks that write the
warehouse share the one-slot pool, so DuckDB never sees two writers. `publish` runs after
every run, whatever failed before it: it publishes mart_data_quality always and the
business marts only when the gate passed. Every task alerts on failure (task-level
callbacks: DAG-level ones have been reported not to fire in Airflow 3.1).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronTriggerTimetable, TriggerRule, dag, get_current_context, task

from funnelhouse import alerts, tasks
from funnelhouse.settings import WAREHOUSE_POOL, load_config

CONFIG = load_config()


@dag(
    dag_id="funnel_nightly",
    schedule=CronTriggerTimetable(
        CONFIG.cron, timezone=CONFIG.time_zone.key, interval=timedelta(days=1)
    ),
    start_date=datetime(2026, 1, 1, tzinfo=CONFIG.time_zone),
    catchup=False,
    max_active_runs=1,
    tags=["funnelhouse"],
    doc_md=__doc__,
    default_args={"on_failure_callback": alerts.notify_failure},
)
def funnel_nightly() -> None:
    @task(
        retries=3,
        retry_delay=timedelta(minutes=2),
        retry_exponential_backoff=True,
        map_index_template="{{ source_name }}",
    )
    def extract(source_name: str) -> dict[str, int]:
        context = get_current_context()
        context["source_name"] = source_name  # type: ignore[typeddict-unknown-key]  # map index label
        return tasks.extract_source(
            CONFIG.source(source_name),
            run_id=context["run_id"],
            data_interval_end=context["data_interval_end"],
        )

    @task(pool=WAREHOUSE_POOL)
    def validate_phones() -> int:
        return tasks.refresh_phones()

    @task(pool=WAREHOUSE_POOL)
    def dbt_build() -> None:
        tasks.build_models()

    @task(pool=WAREHOUSE_POOL)
    def quality_gate() -> str:
        return tasks.quality_gate(run_id=get_current_context()["run_id"])

    @task(pool=WAREHOUSE_POOL, trigger_rule=TriggerRule.ALL_DONE)
    def publish() -> str:
        context = get_current_context()
        run_id = context["run_id"]
        states = context["ti"].get_task_states(
            dag_id=context["dag"].dag_id, task_ids=["quality_gate"], run_ids=[run_id]
        )
        gate_state = states.get(run_id, {}).get("quality_gate")
        return tasks.publish_marts(run_id=run_id, gate_state=gate_state)

    extracted = extract.expand(source_name=[source.name for source in CONFIG.sources])
    extracted >> validate_phones() >> dbt_build() >> quality_gate() >> publish()


funnel_nightly()
