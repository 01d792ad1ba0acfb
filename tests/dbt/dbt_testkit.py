"""What the dbt tests share: landing raw files, the phone table, running dbt in-process."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from dbt.cli.main import dbtRunner

from extract.schemas import SCHEMAS

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
WON, LOST = 142, 143  # amoCRM system statuses, the same in every pipeline
MARTS = (  # schema marts: what BI reads (../shared/METRICS.md)
    "mart_unit_economics",
    "mart_funnel_conversion",
    "mart_dropoffs",
    "mart_lead_quality",
    "mart_leads",
)

# enriched.phone_numbers rows as funnelhouse.phones writes them:
# (phone_raw, e164, is_valid, invalid_reason)
PhoneRow = tuple[str, str | None, bool, str | None]


def demo_pipeline() -> tuple[int, dict[str, int], int]:
    """A pipeline of the shipped stage_mapping seed, its status per open stage, and a status
    the seed does not map."""
    with (DBT_PROJECT_DIR / "seeds" / "stage_mapping.csv").open(encoding="utf-8") as seed:
        rows = [row for row in csv.DictReader(seed) if row["source"] == "amocrm"]
    pipeline_id = int(next(row for row in rows if row["funnel_stage"] == "new")["pipeline_id"])
    statuses = {
        row["funnel_stage"]: int(row["status_id"])
        for row in rows
        if int(row["pipeline_id"]) == pipeline_id and int(row["status_id"]) not in (WON, LOST)
    }
    return pipeline_id, statuses, max(statuses.values()) + 1


def land(
    raw_dir: Path,
    source: str,
    entity: str,
    run_key: str,
    extracted_at: datetime,
    rows: Sequence[dict[str, Any]],
    part: int = 1,
) -> None:
    """Write `rows` as one landing file of `source`/`entity`, typed by extract.schemas."""
    meta = {"_source": source, "_extracted_at": extracted_at, "_run_id": run_key}
    records = [{**row, **meta, "_payload": json.dumps(row, default=str)} for row in rows]
    folder = raw_dir / source / entity / run_key
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(records, schema=SCHEMAS[(source, entity)])
    pq.write_table(table, folder / f"part-{part:05d}.parquet")


def create_phone_table(warehouse: Path, phones: Sequence[PhoneRow]) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema enriched")
        con.execute(
            "create table enriched.phone_numbers (phone_raw varchar primary key, e164 varchar,"
            " is_valid boolean, invalid_reason varchar, default_region varchar,"
            " validated_at timestamptz)"
        )
        con.executemany(
            "insert into enriched.phone_numbers values (?, ?, ?, ?, 'RU', now())", list(phones)
        )


@contextmanager
def warehouse_env(warehouse: Path, raw_dir: Path) -> Iterator[None]:
    """FUNNELHOUSE_WAREHOUSE and FUNNELHOUSE_RAW_DIR for dbt, restored afterwards."""
    env = {"FUNNELHOUSE_WAREHOUSE": str(warehouse), "FUNNELHOUSE_RAW_DIR": str(raw_dir)}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Dbt:
    """Runs dbt commands in-process against the project, state kept in `work_dir`."""

    def __init__(self, work_dir: Path, profiles_dir: Path = DBT_PROJECT_DIR) -> None:
        self.common = [
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(profiles_dir),
            "--target-path",
            str(work_dir / "target"),
            "--log-path",
            str(work_dir / "logs"),
        ]

    def __call__(self, *args: str) -> None:
        result = dbtRunner().invoke([*args, *self.common])
        failures = [
            f"{node.node.unique_id}: {node.message}"
            for node in getattr(result.result, "results", [])
            if node.status in ("error", "fail")
        ]
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception or failures}"


# Not read-only: dbt-duckdb keeps the file open in this process, and DuckDB refuses a second
# connection to it with another configuration.
def query(warehouse: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse)) as con:
        return con.execute(sql, list(params)).fetchall()


def query_dicts(warehouse: Path, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with duckdb.connect(str(warehouse)) as con:
        cursor = con.execute(sql, list(params))
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
