"""The quality gate: measure with SQL, judge with Great Expectations, record, block.

Each check's measurement (raw.py, staging.py, marts.py) runs on one read-only connection,
on which the intermediate models the checks share are read once (staging.read_inputs_once),
and returns a few rows per check; GX validates them suite by suite (validation.py) and
builds the run's Data Docs. The verdicts replace the run's rows in `quality.check_results`
(through a separate read-write connection, opened after the read-only one is closed), and
a failed critical check raises `QualityGateFailed`, so the business marts stay unpublished.
"""

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from expectations.checks import Bound, Check, Layer, MeasureContext, Severity
from expectations.raw import landed_entities
from expectations.staging import read_inputs_once
from expectations.suites import ALL_CHECKS, SUITES
from expectations.thresholds import Threshold, load_thresholds
from expectations.validation import validate
from extract.landing import run_key

log = logging.getLogger(__name__)

# A check with its measurement frame: one row per scope.
Measurement = tuple[Check, pd.DataFrame]

DATA_DOCS_ENV = "FUNNELHOUSE_DATA_DOCS_DIR"
DATA_DOCS_KEEP_RUNS = 30
# DuckDB's budget for the measurements. Past it, joins, aggregates and the temp tables of
# read_inputs_once spill to <warehouse>.tmp, so the gate's memory stays bounded at any row
# count. Measured: the gate runs at 3M leads in 150 MB, no slower than without a cap.
MEASURE_MEMORY_LIMIT = "1GB"
QUARANTINE_CHECK = "quarantined_records"
RESULTS_TABLE = "quality.check_results"
_RESULTS_DDL = f"""
CREATE SCHEMA IF NOT EXISTS quality;
CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (
    run_id VARCHAR NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL,
    layer VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    observed_value DOUBLE,
    threshold DOUBLE NOT NULL,
    severity VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    details VARCHAR
)
"""
_RESULTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("checked_at", pa.timestamp("us", tz="UTC")),
        ("layer", pa.string()),
        ("check_name", pa.string()),
        ("scope", pa.string()),
        ("observed_value", pa.float64()),
        ("threshold", pa.float64()),
        ("severity", pa.string()),
        ("status", pa.string()),
        ("details", pa.string()),
    ]
)
# Columns of a measurement frame that are not details.
_MEASURE_COLUMNS = ("scope", "observed_value")


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # a critical check failed
    WARN = "warn"  # a warning check failed


_STATUS_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class CheckResult:
    """One check x scope verdict: a row of quality.check_results (plus its bound)."""

    run_id: str
    checked_at: datetime
    layer: str  # a Layer; plain text in rows recorded by earlier versions
    check_name: str
    scope: str
    observed_value: float | None
    threshold: float
    severity: Severity
    status: Status
    details: str
    bound: Bound

    def describe(self) -> str:
        verdict = "passed" if self.status is Status.PASS else "failed"
        if self.observed_value is None:
            observed = "nothing (no rows to measure, or the measurement failed)"
        else:
            passed = self.status is Status.PASS
            operator = {Bound.MIN: (">=", "<"), Bound.MAX: ("<=", ">")}[self.bound][not passed]
            observed = f"{_number(self.observed_value)} {operator}"
        return (
            f"{self.severity} check {self.check_name} {verdict}: observed {observed} "
            f"threshold {_number(self.threshold)} (scope {self.scope})"
        )

    def as_record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _RESULTS_SCHEMA.names}


@dataclass(frozen=True)
class GateResult:
    run_id: str
    rows: list[CheckResult]
    data_docs: Path

    @property
    def failures(self) -> list[CheckResult]:
        return [row for row in self.rows if row.status is Status.FAIL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [row for row in self.rows if row.status is Status.WARN]

    @property
    def quarantined(self) -> int:
        """Records the run quarantined (the `all` row of quarantined_records)."""
        for row in self.rows:
            if row.check_name == QUARANTINE_CHECK and row.scope == "all":
                return int(row.observed_value or 0)
        return 0

    def summary(self) -> str:
        """Counts per check: a check warns or fails when any of its scopes does."""
        worst: dict[str, Status] = {}
        for row in self.rows:
            worst[row.check_name] = max(
                worst.get(row.check_name, Status.PASS), row.status, key=_STATUS_RANK.__getitem__
            )
        counts = {status: sum(1 for s in worst.values() if s is status) for status in Status}
        return (
            f"quality gate {self.run_id}: {len(worst)} checks, {counts[Status.PASS]} passed, "
            f"{counts[Status.WARN]} warnings, {counts[Status.FAIL]} failed; "
            f"{self.quarantined} quarantined records"
        )


class QualityGateFailed(RuntimeError):
    """A critical check failed: the run must not publish. Results are already recorded."""

    def __init__(self, result: GateResult) -> None:
        docs = f" (Data Docs: {result.data_docs})"
        super().__init__("; ".join(row.describe() for row in result.failures) + docs)
        self.result = result


def data_docs_root(warehouse: Path) -> Path:
    """Where each run's Data Docs go: $FUNNELHOUSE_DATA_DOCS_DIR, else data_docs/ beside
    the warehouse file; one folder per run, named by its run key."""
    return Path(os.environ.get(DATA_DOCS_ENV, warehouse.parent / "data_docs")).resolve()


def run_data_docs_dir(warehouse: Path, run_id: str) -> Path:
    return data_docs_root(warehouse) / run_key(run_id)


def create_results_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_RESULTS_DDL)


def _number(value: float) -> str:
    return f"{value:.4g}"


def _unmeasurable(error: duckdb.Error) -> pd.DataFrame:
    lines = str(error).strip().splitlines()
    problem = f"cannot measure: {lines[0] if lines else type(error).__name__}"
    return pd.DataFrame([{"scope": "all", "observed_value": None, "problem": problem}])


def _measure(
    warehouse: Path, raw_dir: Path, run_id: str, thresholds: dict[str, Threshold]
) -> list[Measurement]:
    """Every check's measurement on one read-only connection, closed before anything is
    written. A measurement that fails (a missing model, say) is a NULL, so it fails."""
    landed = landed_entities(raw_dir, run_id)
    measurements = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(f"SET memory_limit = '{MEASURE_MEMORY_LIMIT}'")
        read_inputs_once(con)
        for check in ALL_CHECKS:
            context = MeasureContext(run_id, landed, thresholds[check.name].params)
            try:
                frame = check.measure(con, context)
            except duckdb.Error as exc:
                log.error("quality check %s could not measure: %s", check.name, exc)
                frame = _unmeasurable(exc)
            measurements.append((check, frame))
    return measurements


def _layer_frames(measurements: list[Measurement]) -> dict[Layer, pd.DataFrame]:
    """Per layer, the (check_name, scope, observed_value) rows GX validates."""
    frames = {}
    for layer in SUITES:
        parts = [
            pd.DataFrame(
                {
                    "check_name": check.name,
                    "scope": frame["scope"].astype(str),
                    "observed_value": pd.to_numeric(frame["observed_value"]).astype(float),
                }
            )
            for check, frame in measurements
            if check.layer is layer and not frame.empty
        ]
        frames[layer] = pd.concat(parts, ignore_index=True)
    return frames


def _details(measurement: dict[str, Any]) -> str:
    return ", ".join(
        f"{name}={value}"
        for name, value in measurement.items()
        if name not in _MEASURE_COLUMNS and not pd.isna(value)
    )


def _results(
    run_id: str,
    checked_at: datetime,
    measurements: list[Measurement],
    thresholds: dict[str, Threshold],
    failures: set[tuple[str, str]],
) -> list[CheckResult]:
    rows = []
    for check, frame in measurements:
        threshold = thresholds[check.name]
        failed_status = Status.FAIL if threshold.severity is Severity.CRITICAL else Status.WARN
        for measurement in frame.to_dict(orient="records"):
            observed = measurement["observed_value"]
            scope = str(measurement["scope"])
            rows.append(
                CheckResult(
                    run_id=run_id,
                    checked_at=checked_at,
                    layer=check.layer,
                    check_name=check.name,
                    scope=scope,
                    observed_value=None if pd.isna(observed) else float(observed),
                    threshold=threshold.threshold,
                    severity=threshold.severity,
                    status=failed_status if (check.name, scope) in failures else Status.PASS,
                    details=_details(measurement),
                    bound=check.bound,
                )
            )
    return rows


def _log(row: CheckResult) -> None:
    level = {Status.PASS: logging.INFO, Status.WARN: logging.WARNING, Status.FAIL: logging.ERROR}
    log.log(level[row.status], "%s%s", row.describe(), f" [{row.details}]" if row.details else "")


def _record(warehouse: Path, run_id: str, rows: list[CheckResult]) -> None:
    """Replace the run's rows in quality.check_results, so a rerun of a run_id never doubles."""
    table = pa.Table.from_pylist([row.as_record() for row in rows], schema=_RESULTS_SCHEMA)
    with duckdb.connect(str(warehouse)) as con:
        create_results_table(con)
        con.register("gate_rows", table)
        con.begin()
        con.execute(f"DELETE FROM {RESULTS_TABLE} WHERE run_id = ?", [run_id])
        con.execute(f"INSERT INTO {RESULTS_TABLE} BY NAME SELECT * FROM gate_rows")
        con.commit()


def _prune_data_docs(root: Path, keep: int) -> None:
    """Keep the Data Docs of the newest `keep` runs."""
    runs = sorted(
        (folder for folder in root.iterdir() if folder.is_dir()),
        key=lambda folder: folder.stat().st_mtime,
        reverse=True,
    )
    for folder in runs[keep:]:
        shutil.rmtree(folder, ignore_errors=True)


def run_quality_gate(
    warehouse: Path,
    run_id: str,
    *,
    raw_dir: Path,
    thresholds_path: Path | None = None,
) -> GateResult:
    """Validate the run's raw files and the warehouse, record one row per check x scope,
    build the run's Data Docs, and raise `QualityGateFailed` if a critical check failed.

    The caller holds the warehouse-writer slot (results are written after the read-only
    measurements are closed).
    """
    thresholds = load_thresholds(thresholds_path)
    checked_at = datetime.now(UTC)
    measurements = _measure(warehouse, raw_dir, run_id, thresholds)
    docs_dir = run_data_docs_dir(warehouse, run_id)
    failures, data_docs = validate(
        _layer_frames(measurements), SUITES, thresholds, run_id, docs_dir
    )
    _prune_data_docs(docs_dir.parent, DATA_DOCS_KEEP_RUNS)
    rows = _results(run_id, checked_at, measurements, thresholds, failures)
    result = GateResult(run_id, rows, data_docs)
    for row in result.rows:
        _log(row)
    _record(warehouse, run_id, result.rows)
    log.info("%s; Data Docs: %s", result.summary(), data_docs)
    if result.failures:
        raise QualityGateFailed(result)
    return result


def latest_recorded_result(warehouse: Path) -> GateResult | None:
    """The verdicts the gate recorded for its latest run, or None before its first run."""
    bounds = {check.name: check.bound for check in ALL_CHECKS}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schema, table = RESULTS_TABLE.split(".")
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()
        if not found or not found[0]:
            return None
        cursor = con.execute(
            f"SELECT * FROM {RESULTS_TABLE} WHERE run_id = "
            f"(SELECT run_id FROM {RESULTS_TABLE} ORDER BY checked_at DESC LIMIT 1)"
        )
        names = [column[0] for column in cursor.description]
        records = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if not records:
        return None
    rows = [
        CheckResult(
            **{
                **record,
                "severity": Severity(record["severity"]),
                "status": Status(record["status"]),
                "details": record["details"] or "",
            },
            bound=bounds.get(record["check_name"], Bound.MAX),
        )
        for record in records
    ]
    run_id = rows[0].run_id
    return GateResult(run_id, rows, run_data_docs_dir(warehouse, run_id) / "index.html")
