"""Backfill: read a date range of the chosen sources again, as ONE run, then rebuild once.

Each chosen source is extracted once over the whole range (CRM: records updated on those
days, in the pipeline's time zone; ads: those report days; with `sweep_lead_ids`, every
amoCRM lead id too), then phones, one dbt build, the quality gate and publication run as
at night, with the same task functions, pool and failure alerts. A backfill never moves
the nightly's cursors, and running the same range twice changes nothing. Run it with the
range in the run's conf (params: date_from, date_to, sources, sweep_lead_ids), in-process
or through the scheduler:

    airflow dags test funnel_backfill --conf '{"date_from": "2026-03-01", "date_to": "2026-03-31"}'
    airflow dags trigger funnel_backfill --conf '{"date_from": "2026-03-01", ...}'
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task

from funnelhouse import alerts, tasks
from funnelhouse.dag_tasks import build_check_publish
from funnelhouse.settings import load_config
from funnelhouse.windows import Backfill

CONFIG = load_config()
SOURCE_NAMES = [source.name for source in CONFIG.sources]


def _backfill(params: dict[str, object]) -> Backfill:
    """The backfill the run's params ask for; ValueError for a range ending before it starts."""
    return Backfill.from_params(
        str(params["date_from"]),
        str(params["date_to"]),
        CONFIG.time_zone,
        sweep_lead_ids=bool(params["sweep_lead_ids"]),
    )


@dag(
    dag_id="funnel_backfill",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=CONFIG.time_zone),
    catchup=False,
    max_active_runs=1,
    tags=["funnelhouse"],
    doc_md=__doc__,
    default_args={"on_failure_callback": alerts.notify_failure},
    params={
        "date_from": Param(
            type="string", format="date", description="First day read again (YYYY-MM-DD)."
        ),
        "date_to": Param(
            type="string", format="date", description="Last day read again, included."
        ),
        "sources": Param(
            SOURCE_NAMES,
            type="array",
            items={"type": "string", "enum": SOURCE_NAMES},
            minItems=1,
            uniqueItems=True,
            description="The sources to read again (default: every enabled source).",
        ),
        "sweep_lead_ids": Param(
            True,
            type="boolean",
            description="Also list every CRM record id (amoCRM leads, Bitrix24 leads and "
            "deals), so records deleted without a trace leave the marts.",
        ),
    },
)
def funnel_backfill() -> None:
    @task
    def plan() -> list[str]:
        """Check the range against every chosen source before anything is read; return
        the sources to extract."""
        params = get_current_context()["params"]
        backfill = _backfill(params)
        for name in params["sources"]:
            backfill.check_starts_within_history(name, CONFIG.source(name).start_date)
        return list(params["sources"])

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
            data_interval_end=context.get("data_interval_end"),
            backfill=_backfill(context["params"]),
        )

    extracted = extract.expand(source_name=plan())
    extracted >> build_check_publish()


funnel_backfill()
