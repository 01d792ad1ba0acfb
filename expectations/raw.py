"""Raw suite: the Parquet files this run landed, against their contract in extract/schemas.py,
and the records this run quarantined.

Only the run's own files are read (`{raw_dir}/{source}/{entity}/{run_key}/`), through
DuckDB, so the cost follows the run's window. A run that landed no file at all fails the
raw checks (nothing to measure is not a pass). Scope: `source/entity`.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from expectations.checks import (
    Bound,
    Check,
    LandedEntity,
    Layer,
    MeasureContext,
    sql_measure,
)
from extract.landing import run_key
from extract.schemas import SCHEMAS

# The key of one record of each landed entity: unique within one load.
RECORD_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("amocrm", "leads"): ("lead_id",),
    ("amocrm", "contacts"): ("contact_id",),
    ("amocrm", "status_changes"): ("event_id",),
    ("amocrm", "statuses"): ("pipeline_id", "status_id"),
    ("amocrm", "lead_ids"): ("lead_id",),
    ("amocrm", "loss_reasons"): ("loss_reason_id",),
    ("bitrix24", "leads"): ("lead_id",),
    ("bitrix24", "deals"): ("deal_id",),
    ("bitrix24", "contacts"): ("contact_id",),
    ("bitrix24", "statuses"): ("entity_id", "status_id"),
    ("bitrix24", "stage_history"): ("entity_type_id", "history_id"),
    ("bitrix24", "lead_ids"): ("lead_id",),
    ("bitrix24", "deal_ids"): ("deal_id",),
    ("hubspot", "contacts"): ("contact_id",),
    ("hubspot", "deals"): ("deal_id",),
    ("hubspot", "deal_contacts"): ("deal_id", "contact_id"),
    ("hubspot", "stages"): ("pipeline_id", "stage_id"),
    ("hubspot", "stage_history"): ("deal_id", "changed_at", "stage_id"),
    ("hubspot", "contact_ids"): ("contact_id",),
    ("hubspot", "deal_ids"): ("deal_id",),
    ("google_ads", "campaign_stats"): ("account", "date", "campaign_id"),
    ("meta_ads", "campaign_stats"): ("account", "date", "campaign_id"),
    ("cbr_rates", "daily_rates"): ("rate_date", "currency"),
    ("yandex_direct", "campaign_stats"): ("account", "date", "campaign_id"),
}

SAMPLE_SIZE = 5


def landed_entities(raw_dir: Path, run_id: str) -> tuple[LandedEntity, ...]:
    """Every source/entity with files landed under `run_id`, in contract order."""
    landed = []
    for source, entity in SCHEMAS:
        folder = raw_dir / source / entity / run_key(run_id)
        files = tuple(sorted(str(path) for path in folder.glob("*.parquet")))
        if files:
            landed.append(LandedEntity(source, entity, files))
    return tuple(landed)


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


# One entity's landed files as one relation; the file list is the `$files` parameter.
LANDED = "read_parquet($files, union_by_name = true)"


def _per_entity(
    measure_one: Callable[[duckdb.DuckDBPyConnection, LandedEntity], dict[str, Any]],
) -> Callable[[duckdb.DuckDBPyConnection, MeasureContext], pd.DataFrame]:
    """A measurement with one row per landed entity (or one failing row if none landed)."""

    def measure(con: duckdb.DuckDBPyConnection, context: MeasureContext) -> pd.DataFrame:
        if not context.landed:
            return pd.DataFrame(
                [
                    {
                        "scope": "all",
                        "observed_value": None,
                        "problem": f"no raw file landed for run {context.run_id}",
                    }
                ]
            )
        rows = [{"scope": e.scope, **measure_one(con, e)} for e in context.landed]
        return pd.DataFrame(rows)

    return measure


def _column_types(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> dict[str, str]:
    return dict(con.execute(f"SELECT column_name, column_type FROM ({sql})", params).fetchall())


def _schema_drift(con: duckdb.DuckDBPyConnection, entity: LandedEntity) -> dict[str, Any]:
    contract = SCHEMAS[(entity.source, entity.entity)]
    con.register("raw_contract", contract.empty_table())
    try:
        expected = _column_types(con, "DESCRIBE raw_contract")
    finally:
        con.unregister("raw_contract")
    landed = _column_types(con, f"DESCRIBE SELECT * FROM {LANDED}", {"files": list(entity.files)})
    drifted = sorted(
        name for name in expected.keys() | landed.keys() if expected.get(name) != landed.get(name)
    )
    return {
        "observed_value": float(len(drifted)),
        "files": len(entity.files),
        "columns": " ".join(drifted[:SAMPLE_SIZE]) or None,
    }


def _required_missing(con: duckdb.DuckDBPyConnection, entity: LandedEntity) -> dict[str, Any]:
    contract = SCHEMAS[(entity.source, entity.entity)]
    required = [_quoted(field.name) for field in contract if not field.nullable]
    any_missing = " OR ".join(f"{column} IS NULL" for column in required)
    missing, rows = con.execute(
        f"SELECT count(*) FILTER (WHERE {any_missing}), count(*) FROM {LANDED}",
        {"files": list(entity.files)},
    ).fetchone() or (0, 0)
    return {"observed_value": float(missing), "rows": rows}


def _duplicate_ids(con: duckdb.DuckDBPyConnection, entity: LandedEntity) -> dict[str, Any]:
    key = ", ".join(_quoted(column) for column in RECORD_KEYS[(entity.source, entity.entity)])
    extra, repeated, sample = con.execute(
        f"""
        WITH repeated AS (
            SELECT concat_ws(':', {key}) AS record_key, count(*) - 1 AS extra_rows
            FROM {LANDED}
            GROUP BY ALL HAVING count(*) > 1
        )
        SELECT coalesce(sum(extra_rows), 0), count(*),
            (SELECT string_agg(record_key, ' ') FROM
                (SELECT record_key FROM repeated ORDER BY record_key LIMIT {SAMPLE_SIZE}))
        FROM repeated
        """,
        {"files": list(entity.files)},
    ).fetchone() or (0, 0, None)
    return {"observed_value": float(extra), "repeated_ids": repeated, "sample": sample}


CHECKS: tuple[Check, ...] = (
    Check(
        name="raw_schema_drift",
        layer=Layer.RAW,
        bound=Bound.MAX,
        description=(
            "columns of the run's landed files whose name or type differs from extract/schemas.py"
        ),
        measure=_per_entity(_schema_drift),
    ),
    Check(
        name="raw_required_fields_missing",
        layer=Layer.RAW,
        bound=Bound.MAX,
        description="landed rows missing a field the contract requires (ids, load metadata)",
        measure=_per_entity(_required_missing),
    ),
    Check(
        name="raw_duplicate_ids",
        layer=Layer.RAW,
        bound=Bound.MAX,
        description="landed rows beyond the first per record id within the run",
        measure=_per_entity(_duplicate_ids),
    ),
    Check(
        name="quarantined_records",
        layer=Layer.RAW,
        bound=Bound.MAX,
        description=(
            "records the run could not parse, kept in quality.quarantined_records "
            "(scope all, and per source/entity that had any)"
        ),
        measure=sql_measure(
            """
            SELECT
                CASE WHEN grouping(source, entity) = 0 THEN source || '/' || entity
                    ELSE 'all' END AS scope,
                count(*)::DOUBLE AS observed_value,
                count(DISTINCT record_id) AS record_ids
            FROM quality.quarantined_records
            WHERE run_id = $run_id
            GROUP BY GROUPING SETS ((source, entity), ())
            ORDER BY scope
            """
        ),
    ),
)
