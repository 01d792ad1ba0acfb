"""What a quality check is: a measurement taken with SQL, a bound, a layer.

A check's measurement runs on the warehouse opened read-only and returns a small frame,
never a model itself: one row per scope with `scope`, `observed_value` and count columns
that become the row's details. Great Expectations then judges `observed_value` against the
check's threshold from thresholds.yml (see expectations/validation.py).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import duckdb
import pandas as pd


class Layer(StrEnum):
    """The suites, one per layer, in the order the gate runs them."""

    RAW = "raw"  # this run's landed Parquet files and quarantined records
    STAGING = "staging"  # typed, deduplicated models below the marts (staging, intermediate)
    MARTS = "marts"  # the business marts BI reads


class Bound(StrEnum):
    """Which side of the threshold passes."""

    MIN = "min"  # observed >= threshold
    MAX = "max"  # observed <= threshold


class Severity(StrEnum):
    CRITICAL = "critical"  # blocks publication
    WARNING = "warning"  # recorded and shown, publication goes on


@dataclass(frozen=True)
class LandedEntity:
    """The raw files one source landed for one entity in the run being checked."""

    source: str
    entity: str
    files: tuple[str, ...]

    @property
    def scope(self) -> str:
        return f"{self.source}/{self.entity}"


@dataclass(frozen=True)
class MeasureContext:
    run_id: str
    landed: tuple[LandedEntity, ...]
    # The check's own parameters from thresholds.yml (min_leads, max_amount, ...).
    params: Mapping[str, float]


Measure = Callable[[duckdb.DuckDBPyConnection, MeasureContext], pd.DataFrame]


@dataclass(frozen=True)
class Check:
    name: str
    layer: Layer
    bound: Bound
    # What observed_value is, in one sentence: shown in the Data Docs and the README.
    description: str
    measure: Measure
    # Numeric keys its thresholds.yml entry must carry besides threshold and severity.
    params: tuple[str, ...] = ()


def sql_measure(sql: str) -> Measure:
    """A measurement by one SQL statement. It may use `$run_id` and the check's parameters
    (`$min_leads`, ...) as named parameters."""
    used = set(re.findall(r"\$(\w+)", sql))

    def measure(con: duckdb.DuckDBPyConnection, context: MeasureContext) -> pd.DataFrame:
        available: dict[str, Any] = {"run_id": context.run_id, **context.params}
        missing = used - available.keys()
        if missing:
            raise KeyError(f"SQL parameters {sorted(missing)} have no value")
        return con.execute(sql, {name: available[name] for name in used}).df()

    return measure
