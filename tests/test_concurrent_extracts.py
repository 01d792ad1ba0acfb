"""Extract tasks run at the same time without touching the warehouse file.

Under a real executor extracts run in parallel processes, possibly while another run's
dbt build holds the DuckDB file for writing. Neither may cause a lock error.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from extract.connection import SourceConnection
from funnelhouse import tasks
from funnelhouse.runs import has_completed_run
from funnelhouse.settings import Paths, load_config
from sandbox.amocrm import start_amocrm
from sandbox.generator import generate
from sandbox.yandex_direct import start_yandex_direct

TOKEN = "concurrency-token"
NIGHT = datetime(2026, 7, 1, tzinfo=UTC)


def _extract(source_name: str, base_url: str, paths: Paths) -> dict[str, int]:
    source = load_config().source(source_name)
    if source_name == "amocrm":
        source = replace(source, options={**source.options, "page_size": 50})
    return tasks.extract_source(
        source,
        run_id="concurrent",
        data_interval_end=NIGHT,
        connection=SourceConnection(base_url=base_url, token=TOKEN),
        paths=paths,
    )


def test_two_extracts_run_concurrently_while_a_writer_holds_the_warehouse(tmp_path: Path) -> None:
    dataset = generate(seed=3, n_leads=300)
    paths = Paths(
        warehouse=tmp_path / "funnelhouse.duckdb", raw_dir=tmp_path / "raw", config=tmp_path / "x"
    )
    with (
        start_amocrm(dataset, token=TOKEN) as amocrm,
        start_yandex_direct(dataset, token=TOKEN, polls_before_ready=1, retry_in_seconds=1) as ads,
        duckdb.connect(str(paths.warehouse)) as writer,  # another task's open write lock
        ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool,
    ):
        writer.execute("create table busy as select 1 as x")
        amocrm_run = pool.submit(_extract, "amocrm", amocrm.url, paths)
        ads_run = pool.submit(_extract, "yandex_direct", ads.url, paths)
        amocrm_counts, ads_counts = amocrm_run.result(timeout=120), ads_run.result(timeout=120)

    assert amocrm_counts["leads"] == len(dataset.leads)  # deleted ones included, flagged
    assert ads_counts["campaign_stats"] == len(dataset.ad_stats)
    landed_leads = pq.read_table(paths.raw_dir / "amocrm" / "leads").num_rows
    assert landed_leads >= amocrm_counts["leads"]
    assert has_completed_run(paths.raw_dir, "amocrm")
    assert has_completed_run(paths.raw_dir, "yandex_direct")
