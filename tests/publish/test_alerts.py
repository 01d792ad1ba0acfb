"""The failure callback against a local HTTP receiver: what the message says, and that the
webhook URL (a secret) is in no message and no log line."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from expectations.checks import Bound, Layer, Severity
from expectations.gate import CheckResult, GateResult, QualityGateFailed, Status
from funnelhouse.alerts import ALERT_WEBHOOK_ENV, notify_failure
from funnelhouse.publish import PublicationBlocked

SECRET = "T000-B000-s3cr3t-hook-token"  # no message or log may ever contain it
RUN_ID = "scheduled__2026-07-02T00:00:00+00:00"


@dataclass
class Receiver:
    """A webhook on localhost that records what it is sent and answers `status`."""

    status: int = 200
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.path, json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), state.handler())
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield state, f"http://{host}:{port}/hooks/{SECRET}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_configured_webhook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ALERT_WEBHOOK_ENV, raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_FUNNELHOUSE_ALERTS", raising=False)
    # Where the callback looks for the run's Data Docs when the failure is not the gate's.
    monkeypatch.setenv("FUNNELHOUSE_WAREHOUSE", str(tmp_path / "funnelhouse.duckdb"))
    monkeypatch.delenv("FUNNELHOUSE_DATA_DOCS_DIR", raising=False)


def context(task_id: str, exception: BaseException | None) -> dict[str, Any]:
    """What Airflow hands a task's on_failure_callback, as far as the callback reads it."""
    ti = SimpleNamespace(dag_id="funnel_nightly", task_id=task_id, map_index=-1)
    return {"ti": ti, "run_id": RUN_ID, "exception": exception}


def gate_failure(data_docs: Path) -> QualityGateFailed:
    def verdict(check: str, scope: str, observed: float, status: Status) -> CheckResult:
        return CheckResult(
            run_id=RUN_ID, checked_at=datetime(2026, 7, 2, tzinfo=UTC), layer=Layer.STAGING,
            check_name=check, scope=scope, observed_value=observed, threshold=0.6,
            severity=Severity.CRITICAL if status is Status.FAIL else Severity.WARNING,
            status=status, details="", bound=Bound.MIN,
        )  # fmt: skip

    rows = [
        verdict("valid_phone_share", "all", 0.2, Status.FAIL),
        verdict("valid_phone_share_by_source_channel", "amocrm/yandex_direct", 0.1, Status.WARN),
    ]
    return QualityGateFailed(GateResult(RUN_ID, rows, data_docs))


def test_a_failed_gate_alert_names_dag_task_check_value_and_data_docs(
    receiver: tuple[Receiver, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    state, url = receiver
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, url)
    docs = tmp_path / "data_docs" / "run" / "index.html"
    caplog.set_level(logging.DEBUG)

    notify_failure(context("quality_gate", gate_failure(docs)))

    [(path, payload)] = state.received
    assert path == f"/hooks/{SECRET}"
    assert payload["text"] == (
        f"funnelhouse: funnel_nightly.quality_gate failed in run {RUN_ID}: critical check "
        "valid_phone_share failed: observed 0.2 < threshold 0.6 (scope all). "
        f"Data Docs: {docs}"
    )
    assert (payload["dag_id"], payload["task_id"], payload["data_docs"]) == (
        "funnel_nightly",
        "quality_gate",
        str(docs),
    )
    assert SECRET not in json.dumps(payload)
    assert SECRET not in caplog.text


def test_another_failure_alerts_with_the_first_line_of_its_error(
    receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = receiver
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, url)
    error = RuntimeError("dbt build failed: model.funnelhouse.mart_leads (error)\nTraceback ...")

    notify_failure(context("dbt_build", error))

    [(_, payload)] = state.received
    assert payload["failure"] == (
        "RuntimeError: dbt build failed: model.funnelhouse.mart_leads (error)"
    )
    assert payload["data_docs"] is None
    assert payload["text"].endswith("Data Docs: none for this run (the quality gate did not run)")


def test_a_blocked_publication_sends_no_second_alert(
    receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = receiver
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, url)

    notify_failure(context("publish", PublicationBlocked("business marts not published")))

    assert state.received == []


@pytest.mark.parametrize("status", [500, 404])
def test_a_refusing_webhook_is_logged_by_status_without_the_url(
    receiver: tuple[Receiver, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    status: int,
) -> None:
    state, url = receiver
    state.status = status
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, url)
    caplog.set_level(logging.DEBUG)

    notify_failure(context("dbt_build", RuntimeError("boom")))

    assert len(state.received) == 1
    assert f"alert webhook answered HTTP {status}" in caplog.text
    assert SECRET not in caplog.text


def test_an_unreachable_webhook_is_logged_without_the_url(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:  # a port nothing listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(ALERT_WEBHOOK_ENV, f"http://127.0.0.1:{port}/hooks/{SECRET}")
    caplog.set_level(logging.DEBUG)

    notify_failure(context("dbt_build", RuntimeError("boom")))

    assert "alert webhook not reached (URLError)" in caplog.text
    assert SECRET not in caplog.text


def test_the_webhook_can_come_from_an_airflow_connection(
    receiver: tuple[Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = receiver
    monkeypatch.setenv(
        "AIRFLOW_CONN_FUNNELHOUSE_ALERTS", json.dumps({"conn_type": "generic", "password": url})
    )

    notify_failure(context("quality_gate", RuntimeError("boom")))

    assert [path for path, _ in state.received] == [f"/hooks/{SECRET}"]


def test_without_a_webhook_nothing_is_sent(
    receiver: tuple[Receiver, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, _ = receiver
    caplog.set_level(logging.INFO)

    notify_failure(context("quality_gate", RuntimeError("boom")))

    assert state.received == []
    assert "no alert webhook set" in caplog.text
