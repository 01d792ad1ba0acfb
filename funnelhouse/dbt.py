"""Running dbt in-process against the project's warehouse."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from funnelhouse.settings import DBT_PROJECT_DIR, Paths

log = logging.getLogger(__name__)


class DbtError(RuntimeError):
    """A dbt command failed; the message names the failing nodes."""


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_dbt(args: list[str], paths: Paths, target_path: Path | None = None) -> None:
    """Run one dbt command; raise DbtError naming every node that did not succeed."""
    from dbt.cli.main import dbtRunner

    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    cli_args = [
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    if target_path is not None:
        cli_args += ["--target-path", str(target_path)]
    log.info("dbt %s", " ".join(args))
    with _environment(paths.dbt_env()):
        result = dbtRunner().invoke(cli_args)
    if result.success:
        return
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message or ''}".strip()
        for r in getattr(result.result, "results", [])
        if str(r.status) in ("error", "fail", "runtime error")
    ]
    detail = "; ".join(failures) if failures else repr(result.exception)
    raise DbtError(f"dbt {' '.join(args)} failed: {detail}")
