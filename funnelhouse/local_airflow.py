"""Airflow on the embedded default: metadata in SQLite inside the project, nothing in $HOME.

Used by `make demo` and the end-to-end test; a real deployment configures Airflow itself.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from funnelhouse.settings import PROJECT_ROOT, WAREHOUSE_POOL

log = logging.getLogger(__name__)


def airflow_environment(home: Path, connections: dict[str, dict[str, object]]) -> dict[str, str]:
    """Process environment for the Airflow CLI: the project's DAGs, a SQLite db under `home`,
    and connections as AIRFLOW_CONN_<ID> JSON."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
            "GX_ANALYTICS_ENABLED": "False",
        }
    )
    for conn_id, fields in connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(fields)
    return env


def _airflow(args: list[str], env: dict[str, str], log_path: Path | None = None) -> None:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    if log_path is None:
        subprocess.run(command, env=env, check=True, capture_output=True)
        return
    with log_path.open("wb") as out:
        completed = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(args)} failed (exit {completed.returncode}); see {log_path}"
        )


def prepare(env: dict[str, str]) -> None:
    """Create or upgrade the metadata db and the warehouse-writer pool (both idempotent)."""
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    _airflow(["db", "migrate"], env)
    _airflow(
        ["pools", "set", WAREHOUSE_POOL, "1", "serializes writes to the DuckDB warehouse"], env
    )


def run_dag_once(dag_id: str, logical_date: str, env: dict[str, str], log_path: Path) -> None:
    """Run one DAG run in-process (`airflow dags test`), its output written to log_path."""
    log.info("running %s for %s (log: %s)", dag_id, logical_date, log_path)
    _airflow(["dags", "test", dag_id, logical_date], env, log_path)
