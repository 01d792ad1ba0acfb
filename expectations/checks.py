"""The gate's checks: the SQL that measures each one, and their thresholds from thresholds.yml.

A check's SQL runs in the warehouse and returns a small frame, never the model itself: one
row per scope with `scope`, `observed_value` and count columns that become the row's
details. Great Expectations then judges `observed_value` against the threshold.
"""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

LEADS_MODEL = "intermediate.int_leads_enriched"
DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.yml")


class Bound(StrEnum):
    """Which side of the threshold passes."""

    MIN = "min"  # observed >= threshold
    MAX = "max"  # observed <= threshold


class Severity(StrEnum):
    CRITICAL = "critical"  # blocks publication
    WARNING = "warning"  # recorded, the run goes on


@dataclass(frozen=True)
class Check:
    name: str
    layer: str
    bound: Bound
    sql: str
    # Scoped checks drop scopes with fewer than `min_leads` leads (`$min_leads` in the SQL):
    # a channel with three leads says nothing about phone quality.
    scoped: bool = False


@dataclass(frozen=True)
class Threshold:
    threshold: float
    severity: Severity
    min_leads: int | None = None


# Leads whose phone was never validated (NULL phone_valid) count as invalid, and show.
_PHONE_COUNTS = """
    count(*) FILTER (WHERE phone_valid)::DOUBLE / nullif(count(*), 0) AS observed_value,
    count(*) AS leads,
    count(*) FILTER (WHERE phone_invalid_reason = 'no_phone') AS no_phone,
    count(*) FILTER (WHERE phone_invalid_reason = 'unparseable') AS unparseable,
    count(*) FILTER (WHERE phone_invalid_reason = 'invalid_number') AS invalid_number,
    count(*) FILTER (WHERE phone_valid IS NULL) AS unvalidated
"""


CHECKS: tuple[Check, ...] = (
    Check(
        name="valid_phone_share",
        layer="intermediate",
        bound=Bound.MIN,
        sql=f"""
            SELECT 'all' AS scope, {_PHONE_COUNTS}
            FROM {LEADS_MODEL} WHERE is_deleted IS NOT TRUE
        """,
    ),
    Check(
        name="valid_phone_share_by_source_channel",
        layer="intermediate",
        bound=Bound.MIN,
        sql=f"""
            SELECT source || '/' || coalesce(channel, '(none)') AS scope, {_PHONE_COUNTS}
            FROM {LEADS_MODEL} WHERE is_deleted IS NOT TRUE
            GROUP BY ALL HAVING count(*) >= $min_leads ORDER BY scope
        """,
        scoped=True,
    ),
    Check(
        name="unique_lead_id",
        layer="intermediate",
        bound=Bound.MAX,
        sql=f"""
            WITH repeated AS (
                SELECT lead_id, count(*) - 1 AS extra_rows
                FROM {LEADS_MODEL} GROUP BY lead_id HAVING count(*) > 1
            )
            SELECT 'all' AS scope,
                coalesce(sum(extra_rows), 0)::DOUBLE AS observed_value,
                count(*) AS repeated_lead_ids,
                (SELECT string_agg(lead_id, ' ') FROM
                    (SELECT lead_id FROM repeated ORDER BY lead_id LIMIT 5)) AS sample
            FROM repeated
        """,
    ),
    Check(
        name="created_at_not_null",
        layer="intermediate",
        bound=Bound.MAX,
        sql=f"""
            SELECT 'all' AS scope, count(*)::DOUBLE AS observed_value,
                (SELECT string_agg(lead_id, ' ') FROM
                    (SELECT lead_id FROM {LEADS_MODEL} WHERE created_at IS NULL
                     ORDER BY lead_id LIMIT 5)) AS sample
            FROM {LEADS_MODEL} WHERE created_at IS NULL
        """,
    ),
)


class ThresholdsError(ValueError):
    """thresholds.yml is missing a check or holds a value the gate cannot use."""


def _parse_threshold(path: Path, check: Check, entry: Any) -> Threshold:
    where = f"{path}: check {check.name}"
    if not isinstance(entry, dict):
        raise ThresholdsError(f"{where}: expected a mapping with threshold and severity")
    allowed = {"threshold", "severity"} | ({"min_leads"} if check.scoped else set())
    unknown = set(entry) - allowed
    if unknown:
        raise ThresholdsError(f"{where}: unknown keys {sorted(unknown)}, allowed {sorted(allowed)}")
    threshold = entry.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ThresholdsError(f"{where}: field threshold must be a number, got {threshold!r}")
    severity = entry.get("severity")
    if severity not in set(Severity):
        raise ThresholdsError(
            f"{where}: field severity must be one of {[s.value for s in Severity]}, "
            f"got {severity!r}"
        )
    min_leads = entry.get("min_leads")
    if check.scoped and (
        isinstance(min_leads, bool) or not isinstance(min_leads, int) or min_leads < 1
    ):
        raise ThresholdsError(
            f"{where}: field min_leads must be an integer >= 1, got {min_leads!r}"
        )
    return Threshold(float(threshold), Severity(severity), min_leads)


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict[str, Threshold]:
    """Each check's threshold and severity, by check name; every check must have an entry."""
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = config.get("checks") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise ThresholdsError(f"{path}: expected a top-level mapping 'checks'")
    known = {check.name for check in CHECKS}
    unknown = set(entries) - known
    if unknown:
        raise ThresholdsError(f"{path}: unknown checks {sorted(unknown)}, known {sorted(known)}")
    missing = known - set(entries)
    if missing:
        raise ThresholdsError(f"{path}: no entry for checks {sorted(missing)}")
    return {check.name: _parse_threshold(path, check, entries[check.name]) for check in CHECKS}
