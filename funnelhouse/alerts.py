"""Failure alerts: a short message to a webhook, from every task's on_failure_callback.

DAG-level failure callbacks have been reported not to fire in Airflow 3.1
(apache/airflow#63374), so the DAGs attach `notify_failure` to each task.

The webhook URL is a secret (Slack, Mattermost and Teams URLs carry their token): it comes
from $FUNNELHOUSE_ALERT_WEBHOOK_URL, else from the password of the Airflow Connection
`funnelhouse_alerts`, and is registered with Airflow's secret masker. It never appears in
a message or a log line of ours. Without either, alerts are off and the failure is only in
the task log. A webhook that cannot be reached is logged and never fails the callback.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ALERT_WEBHOOK_ENV = "FUNNELHOUSE_ALERT_WEBHOOK_URL"
ALERT_CONN_ID = "funnelhouse_alerts"
TIMEOUT_SECONDS = 10
MAX_FAILURE_CHARS = 500
MAX_FAILED_CHECKS = 3


@dataclass(frozen=True)
class Alert:
    dag_id: str
    task_id: str
    run_id: str
    failure: str  # the failing checks with their observed values, or the error's first line
    data_docs: str | None

    def text(self) -> str:
        docs = self.data_docs or "none for this run (the quality gate did not run)"
        return (
            f"funnelhouse: {self.dag_id}.{self.task_id} failed in run {self.run_id}: "
            f"{self.failure}. Data Docs: {docs}"
        )

    def payload(self) -> dict[str, Any]:
        """`text` is what Slack, Mattermost and Teams incoming webhooks show."""
        return {"text": self.text(), **asdict(self)}


def _truncated(text: str) -> str:
    return text if len(text) <= MAX_FAILURE_CHARS else text[: MAX_FAILURE_CHARS - 1] + "…"


def _describe_failure(exception: BaseException | None) -> tuple[str, Path | None]:
    """What failed, and the Data Docs of the gate that said so (when it was the gate)."""
    from expectations.gate import QualityGateFailed

    if isinstance(exception, QualityGateFailed):
        failures = exception.result.failures
        shown = "; ".join(row.describe() for row in failures[:MAX_FAILED_CHECKS])
        more = len(failures) - MAX_FAILED_CHECKS
        shown += f"; and {more} more" if more > 0 else ""
        return _truncated(shown), exception.result.data_docs
    if exception is None:
        return "no exception was given (killed, or timed out)", None
    lines = str(exception).strip().splitlines()
    first_line = lines[0] if lines else ""
    return _truncated(f"{type(exception).__name__}: {first_line}".rstrip(": ")), None


def _run_data_docs(run_id: str) -> Path | None:
    """The run's Data Docs index if the gate built one (e.g. a later task failed)."""
    from expectations.gate import run_data_docs_dir
    from funnelhouse.settings import Paths

    index = run_data_docs_dir(Paths.from_env().warehouse, run_id) / "index.html"
    return index if index.is_file() else None


def alert_from_context(context: Mapping[str, Any]) -> Alert | None:
    """The alert for a failed task, or None when the failure needs none of its own:
    a blocked publication follows a failure that was already alerted."""
    from funnelhouse.publish import PublicationBlocked

    exception = context.get("exception")
    if isinstance(exception, PublicationBlocked):
        return None
    ti = context["ti"]
    mapped = ti.map_index is not None and ti.map_index >= 0
    task = f"{ti.task_id}[{ti.map_index}]" if mapped else ti.task_id
    failure, data_docs = _describe_failure(exception)
    run_id = str(context["run_id"])
    data_docs = data_docs or _run_data_docs(run_id)
    return Alert(ti.dag_id, task, run_id, failure, str(data_docs) if data_docs else None)


def webhook_url() -> str | None:
    """The configured webhook URL, registered with Airflow's secret masker; None if none."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    url = os.environ.get(ALERT_WEBHOOK_ENV)
    if not url:
        try:
            url = BaseHook.get_connection(ALERT_CONN_ID).password
        except AirflowNotFoundException:
            return None
    if url:
        mask_secret(url)
    return url or None


def post_alert(url: str, alert: Alert, timeout: float = TIMEOUT_SECONDS) -> bool:
    """POST the alert as JSON; True when the webhook accepted it.

    urllib, not requests: urllib3 logs every request's URL at debug level, and this URL is
    a secret. Errors are logged by type and status only.
    """
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        log.warning("alert webhook URL is not http(s); no alert sent")
        return False
    request = urllib.request.Request(
        url,
        data=json.dumps(alert.payload()).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError as exc:
        log.warning("alert webhook answered HTTP %s", exc.code)
    except OSError as exc:  # URLError, timeouts, refused connections
        log.warning("alert webhook not reached (%s)", type(exc).__name__)
    return False


def notify_failure(context: Mapping[str, Any]) -> None:
    """on_failure_callback: send the failed task's alert to the configured webhook."""
    alert = alert_from_context(context)
    if alert is None:
        return
    url = webhook_url()
    if url is None:
        log.info("no alert webhook set (%s, connection %s)", ALERT_WEBHOOK_ENV, ALERT_CONN_ID)
        return
    if post_alert(url, alert):
        log.info("alert sent: %s", alert.text())
