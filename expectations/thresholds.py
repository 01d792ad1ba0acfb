"""Each check's threshold, severity and parameters, from the one file thresholds.yml."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from expectations.checks import Check, Severity
from expectations.suites import ALL_CHECKS

DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.yml")
THRESHOLDS_ENV = "FUNNELHOUSE_THRESHOLDS"


class ThresholdsError(ValueError):
    """thresholds.yml is missing a check or holds a value the gate cannot use."""


@dataclass(frozen=True)
class Threshold:
    threshold: float
    severity: Severity
    params: dict[str, float]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_threshold(path: Path, check: Check, entry: Any) -> Threshold:
    where = f"{path}: check {check.name}"
    if not isinstance(entry, dict):
        raise ThresholdsError(f"{where}: expected a mapping with threshold and severity")
    allowed = {"threshold", "severity", *check.params}
    unknown = set(entry) - allowed
    if unknown:
        raise ThresholdsError(f"{where}: unknown keys {sorted(unknown)}, allowed {sorted(allowed)}")
    for key in ("threshold", *check.params):
        if not _is_number(entry.get(key)):
            raise ThresholdsError(f"{where}: field {key} must be a number, got {entry.get(key)!r}")
    severity = entry.get("severity")
    if severity not in set(Severity):
        raise ThresholdsError(
            f"{where}: field severity must be one of {[s.value for s in Severity]}, "
            f"got {severity!r}"
        )
    return Threshold(
        threshold=float(entry["threshold"]),
        severity=Severity(severity),
        params={key: entry[key] for key in check.params},
    )


def thresholds_file() -> Path:
    """$FUNNELHOUSE_THRESHOLDS (a deployment's own copy), else the shipped thresholds.yml."""
    return Path(os.environ.get(THRESHOLDS_ENV, DEFAULT_THRESHOLDS))


def load_thresholds(
    path: Path | None = None, checks: tuple[Check, ...] = ALL_CHECKS
) -> dict[str, Threshold]:
    """Each check's threshold, by check name (from `path`, else `thresholds_file()`);
    every check must have an entry."""
    path = path or thresholds_file()
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ThresholdsError(f"cannot read {path}: {exc}") from exc
    entries = config.get("checks") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise ThresholdsError(f"{path}: expected a top-level mapping 'checks'")
    known = {check.name for check in checks}
    unknown = set(entries) - known
    if unknown:
        raise ThresholdsError(f"{path}: unknown checks {sorted(unknown)}, known {sorted(known)}")
    missing = known - set(entries)
    if missing:
        raise ThresholdsError(f"{path}: no entry for checks {sorted(missing)}")
    return {check.name: _parse_threshold(path, check, entries[check.name]) for check in checks}
