"""The quality gate: judge warehouse measurements with Great Expectations, record, block.

GX 1.x has no DuckDB data source, so each check's SQL (expectations/checks.py) runs on a
read-only connection and returns a small frame of per-scope measurements, which GX then
validates in an ephemeral context. The verdicts are appended to `quality.check_results`
through a separate read-write connection, and a failed critical check raises
`QualityGateFailed` so that nothing is published.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from expectations.checks import (
    CHECKS,
    DEFAULT_THRESHOLDS,
    LEADS_MODEL,
    Bound,
    Check,
    Severity,
    Threshold,
    load_thresholds,
)

log = logging.getLogger(__name__)

# A check with its measurement frame: one row per scope.
Measurement = tuple[Check, pd.DataFrame]

RESULTS_TABLE = "quality.check_results"
_CREATE_RESULTS_TABLE = f"""
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
_RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["scope"]}


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # a critical check failed
    WARN = "warn"  # a warning check failed


@dataclass(frozen=True)
class CheckResult:
    """One check x scope verdict: a row of quality.check_results (plus its bound)."""

    run_id: str
    checked_at: datetime
    layer: str
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
            observed = "nothing (no rows to measure)"
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

    @property
    def failures(self) -> list[CheckResult]:
        return [row for row in self.rows if row.status is Status.FAIL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [row for row in self.rows if row.status is Status.WARN]

    def summary(self) -> str:
        passed = len(self.rows) - len(self.failures) - len(self.warnings)
        return (
            f"quality gate {self.run_id}: {len(self.rows)} checks, {passed} passed, "
            f"{len(self.warnings)} warnings, {len(self.failures)} failed"
        )


class QualityGateFailed(RuntimeError):
    """A critical check failed: the run must not publish. Results are already recorded."""

    def __init__(self, result: GateResult) -> None:
        super().__init__("; ".join(row.describe() for row in result.failures))
        self.result = result


def _number(value: float) -> str:
    return f"{value:.4g}"


def _measure(warehouse: Path, thresholds: dict[str, Threshold]) -> list[Measurement]:
    """Run every check's SQL on a read-only connection, closed before anything is written."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        schema, table = LEADS_MODEL.split(".")
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()
        if not found or not found[0]:
            raise LookupError(
                f"quality gate: model {LEADS_MODEL} not found in {warehouse}; build dbt first"
            )
        frames = []
        for check in CHECKS:
            params = {"min_leads": thresholds[check.name].min_leads} if check.scoped else None
            frames.append((check, con.execute(check.sql, params).df()))
        return frames


def _bound_kwargs(check: Check, threshold: Threshold) -> dict[str, float]:
    key = "min_value" if check.bound is Bound.MIN else "max_value"
    return {key: threshold.threshold}


def _failing_scopes(check: Check, validation: Any) -> set[str]:
    scopes: set[str] = set()
    for outcome in validation.results:
        unexpected = outcome.result.get("unexpected_index_list") or []
        if not outcome.success and not unexpected:
            raise RuntimeError(
                f"quality check {check.name}: Great Expectations could not evaluate "
                f"{outcome.expectation_config.type} on the measurement frame"
            )
        scopes.update(row["scope"] for row in unexpected)
    return scopes


def _judge(frames: list[Measurement], thresholds: dict[str, Threshold]) -> dict[str, set[str]]:
    """Failing scopes of each check, as Great Expectations judges its frame."""
    # GX takes seconds to import: keep it out of module import, which DAG parsing triggers.
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas(name="quality_gate")
        .add_dataframe_asset(name="measurements")
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    failing: dict[str, set[str]] = {}
    for check, frame in frames:
        suite = gx.ExpectationSuite(
            name=check.name,
            expectations=[
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column="observed_value", **_bound_kwargs(check, thresholds[check.name])
                ),
                # A ratio over nothing is NULL, which Between skips: it must not pass unseen.
                gx.expectations.ExpectColumnValuesToNotBeNull(column="observed_value"),
            ],
        )
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        failing[check.name] = _failing_scopes(
            check, batch.validate(suite, result_format=_RESULT_FORMAT)
        )
    return failing


def _details(measurement: dict[str, Any]) -> str:
    return ", ".join(
        f"{name}={value}"
        for name, value in measurement.items()
        if name not in _MEASURE_COLUMNS and not pd.isna(value)
    )


def _results(
    run_id: str,
    checked_at: datetime,
    frames: list[Measurement],
    thresholds: dict[str, Threshold],
    failing: dict[str, set[str]],
) -> list[CheckResult]:
    rows = []
    for check, frame in frames:
        threshold = thresholds[check.name]
        failed_status = Status.FAIL if threshold.severity is Severity.CRITICAL else Status.WARN
        for measurement in frame.to_dict(orient="records"):
            observed = measurement["observed_value"]
            rows.append(
                CheckResult(
                    run_id=run_id,
                    checked_at=checked_at,
                    layer=check.layer,
                    check_name=check.name,
                    scope=measurement["scope"],
                    observed_value=None if pd.isna(observed) else float(observed),
                    threshold=threshold.threshold,
                    severity=threshold.severity,
                    status=failed_status
                    if measurement["scope"] in failing[check.name]
                    else Status.PASS,
                    details=_details(measurement),
                    bound=check.bound,
                )
            )
    return rows


def _log(row: CheckResult) -> None:
    level = {Status.PASS: logging.INFO, Status.WARN: logging.WARNING, Status.FAIL: logging.ERROR}
    log.log(level[row.status], "%s [%s]", row.describe(), row.details)


def _record(warehouse: Path, run_id: str, rows: list[CheckResult]) -> None:
    """Replace the run's rows in quality.check_results, so a rerun of a run_id never doubles."""
    table = pa.Table.from_pylist([row.as_record() for row in rows], schema=_RESULTS_SCHEMA)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(_CREATE_RESULTS_TABLE)
        con.register("gate_rows", table)
        con.begin()
        con.execute(f"DELETE FROM {RESULTS_TABLE} WHERE run_id = ?", [run_id])
        con.execute(f"INSERT INTO {RESULTS_TABLE} BY NAME SELECT * FROM gate_rows")
        con.commit()


def run_quality_gate(
    warehouse: Path, run_id: str, thresholds_path: Path | None = None
) -> GateResult:
    """Validate the warehouse, record one row per check x scope, raise if a critical failed.

    The caller holds the warehouse-writer slot (results are written after the read-only
    measurements are closed). Raises `QualityGateFailed` after recording the results.
    """
    thresholds = load_thresholds(thresholds_path or DEFAULT_THRESHOLDS)
    checked_at = datetime.now(UTC)
    frames = _measure(warehouse, thresholds)
    failing = _judge(frames, thresholds)
    result = GateResult(run_id, _results(run_id, checked_at, frames, thresholds, failing))
    for row in result.rows:
        _log(row)
    _record(warehouse, run_id, result.rows)
    log.info(result.summary())
    if result.failures:
        raise QualityGateFailed(result)
    return result
