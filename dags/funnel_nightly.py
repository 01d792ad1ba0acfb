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

from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from funnelhouse import alerts, tasks
from funnelhouse.dag_tasks import build_check_publish
from funnelhouse.settings import load_config

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

    extracted = extract.expand(source_name=[source.name for source in CONFIG.sources])
    extracted >> build_check_publish()


funnel_nightly()
