"""Running dbt against the project's warehouse.

dbt runs in its own process: dbt-duckdb keeps its DuckDB connection open for the life of
the process, which would block the next task that opens the file when Airflow runs tasks
in one process (`airflow dags test`).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from funnelhouse.settings import DBT_PROJECT_DIR, Paths

log = logging.getLogger(__name__)
FAILED_STATUSES = {"error", "fail", "runtime error"}
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class DbtError(RuntimeError):
    """A dbt command failed; the message names the failing nodes."""


def run_dbt(args: list[str], paths: Paths, target_path: Path | None = None) -> None:
    """Run one dbt command, its output streamed to the log; raise DbtError naming failed nodes."""
    target_path = target_path or DBT_PROJECT_DIR / "target"
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("dbt")), *args,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target_path),
    ]  # fmt: skip
    env = {**os.environ, **paths.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    # A stale results file would name the previous run's failures.
    (target_path / "run_results.json").unlink(missing_ok=True)
    log.info("dbt %s", " ".join(args))
    with subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_die_with_parent,
    ) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                log.info("dbt | %s", line.rstrip())
        except BaseException:
            # The task was stopped (Airflow sends SIGTERM): an orphaned dbt would keep the
            # warehouse locked against the next run.
            process.kill()
            raise
    if process.returncode != 0:
        raise DbtError(f"dbt {' '.join(args)} failed: {_failed_nodes(target_path)}")


def _die_with_parent() -> None:
    """Have Linux kill dbt when its task process dies, even by SIGKILL."""
    if sys.platform == "linux":
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _failed_nodes(target_path: Path) -> str:
    try:
        results = json.loads((target_path / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return "no run results were written; see the dbt output above"
    failed = [
        f"{r['unique_id']} ({r['status']}: {(r.get('message') or '').strip()})"
        for r in results
        if r.get("status") in FAILED_STATUSES
    ]
    return "; ".join(failed) or "see the dbt output above"
