"""The warehouse tasks both DAGs end with, each in the one-slot writer pool:
validate phones → dbt build → quality gate → publish (after every run, whatever failed)."""

from __future__ import annotations

from airflow.sdk import TriggerRule, XComArg, get_current_context, task

from funnelhouse import tasks
from funnelhouse.settings import WAREHOUSE_POOL


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
    return tasks.publish_after_gate(get_current_context())


def build_check_publish() -> XComArg:
    """Wire the warehouse tasks in order; returns the first, to put after the extracts."""
    first = validate_phones()
    first >> dbt_build() >> quality_gate() >> publish()
    return first
