"""The documented backfill command through Airflow, once: `airflow dags test funnel_backfill
--conf {...}` against the sandbox, after a nightly extraction, with a lead deleted since
without a trace. Expected numbers come from the sandbox's dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from sync_testkit import AMOCRM, TOKEN, YANDEX, Sandbox, running_sandbox, served_costs

from extract import amocrm, yandex_direct
from funnelhouse import local_airflow
from funnelhouse.runs import BACKFILL, completed_runs, sync_state
from funnelhouse.settings import Paths
from funnelhouse.tasks import extract_source
from sandbox import Dataset

pytestmark = pytest.mark.e2e

NIGHT = datetime(2026, 7, 1, tzinfo=UTC)
# The sources this sandbox serves (the shipped funnelhouse.yml enables Bitrix24 too).
CONF = {"date_from": "2026-01-01", "date_to": "2026-06-30", "sources": ["amocrm", "yandex_direct"]}


@dataclass
class BackfillRun:
    sandbox: Sandbox
    paths: Paths
    purged_lead: int
    cursors_before: list[object]


def nightly_cursors(paths: Paths) -> list[object]:
    later = datetime(2027, 1, 1, tzinfo=UTC)
    return [
        sync_state(paths.raw_dir, source, until=later, exclude_run_id="next")
        for source in ("amocrm", "yandex_direct")
    ]


def land_a_night(sandbox: Sandbox, paths: Paths) -> None:
    with pytest.MonkeyPatch.context() as patch:  # the sandbox has no rate limit to respect
        patch.setattr(amocrm, "REQUESTS_PER_SECOND", 10_000)
        patch.setattr(yandex_direct, "REQUESTS_PER_WINDOW", 10_000)
        for source in (AMOCRM, YANDEX):
            extract_source(
                source,
                run_id="scheduled__2026-07-01",
                data_interval_end=NIGHT,
                connection=sandbox.connection(source),
                paths=paths,
            )


@pytest.fixture(scope="module")
def backfill_run(
    dataset: Dataset, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BackfillRun]:
    root = tmp_path_factory.mktemp("backfill-dag")
    paths = Paths(root / "warehouse" / "funnelhouse.duckdb", root / "raw", root / "unused")
    with running_sandbox(dataset) as sandbox:
        land_a_night(sandbox, paths)
        purged = sandbox.dataset.leads[40]
        sandbox.dataset.leads.remove(purged)  # deleted since, and the trash emptied
        cursors_before = nightly_cursors(paths)

        connections = {
            f"funnelhouse_{name}": {"conn_type": "http", "host": server.url, "password": TOKEN}
            for name, server in (("amocrm", sandbox.amocrm), ("yandex_direct", sandbox.yandex))
        }
        env = local_airflow.airflow_environment(root / "airflow", connections)
        env.update(paths.dbt_env())
        local_airflow.prepare(env)
        airflow = str(Path(sys.executable).with_name("airflow"))
        command = [airflow, "dags", "test", "funnel_backfill", "--conf", json.dumps(CONF)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        log = done.stdout + done.stderr
        assert done.returncode == 0, f"the backfill run failed:\n{log[-4000:]}"
        yield BackfillRun(sandbox, paths, purged["id"], cursors_before)


def mart_total(paths: Paths, column: str) -> Decimal:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        (total,) = con.execute(
            f"select sum({column}) from marts.mart_unit_economics"
            " where segment = 'all' and channel = 'all'"
        ).fetchone()
    return Decimal(str(total))


def backfills(paths: Paths, source: str) -> list[dict[str, object]]:
    return [run for run in completed_runs(paths.raw_dir, source) if run["kind"] == BACKFILL]


def test_the_backfill_extracted_each_source_once_over_the_range(backfill_run: BackfillRun) -> None:
    (crm,) = backfills(backfill_run.paths, "amocrm")
    (ads,) = backfills(backfill_run.paths, "yandex_direct")
    assert (ads["date_from"], ads["date_to"]) == (CONF["date_from"], CONF["date_to"])
    assert (crm["updated_from"], crm["updated_to"]) == (
        "2025-12-31T21:00:00+00:00",  # 2026-01-01 in Moscow
        "2026-06-30T21:00:00+00:00",
    )
    assert crm["lead_ids_swept"] is True
    assert nightly_cursors(backfill_run.paths) == backfill_run.cursors_before


def test_the_marts_count_every_live_lead_and_no_purged_one(backfill_run: BackfillRun) -> None:
    live = [lead for lead in backfill_run.sandbox.dataset.leads if not lead["is_deleted"]]
    assert mart_total(backfill_run.paths, "leads") == len(live)


def test_the_marts_carry_the_whole_spend_once(backfill_run: BackfillRun) -> None:
    spend = sum(served_costs(backfill_run.sandbox.dataset).values())
    assert float(mart_total(backfill_run.paths, "spend")) == pytest.approx(float(spend))


def test_the_backfilled_marts_are_published_for_bi(backfill_run: BackfillRun) -> None:
    current = backfill_run.paths.warehouse.parent / "published" / "current"
    publication = json.loads((current / "publication.json").read_text())
    assert publication["status"] == "published"
    assert publication["run_id"].startswith("manual__")  # the backfill run, not the night
