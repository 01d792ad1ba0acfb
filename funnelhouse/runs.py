"""Completed-extraction manifests: the record of what each run has landed, and the cursors
the next nightly run reads on from.

An extract writes its manifest only after every file of the run is in place, so a failed
run leaves no manifest and the next run reads its window again: a cursor moves only when
the data it covers is committed. The manifests live in the landing area beside the data,
not in the warehouse, because extract tasks never open the warehouse (they run in
parallel, and DuckDB allows one writer).

Only nightly runs move the cursors. A backfill writes a manifest too, for the record, but
the nightly never reads on from it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from extract.landing import run_key

NIGHTLY = "nightly"
BACKFILL = "backfill"
RUN_KINDS = (NIGHTLY, BACKFILL)


def _manifest_dir(raw_dir: Path, source: str) -> Path:
    return raw_dir / source / "_runs"


def write_manifest(
    raw_dir: Path, source: str, run_id: str, kind: str, details: dict[str, Any]
) -> Path:
    """Record a completed run of `kind` (nightly or backfill) with what it read."""
    if kind not in RUN_KINDS:
        raise ValueError(f"run kind must be one of {RUN_KINDS}, got {kind!r}")
    folder = _manifest_dir(raw_dir, source)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_key(run_id)}.json"
    body = {
        "run_id": run_id,
        "kind": kind,
        "completed_at": datetime.now(UTC).isoformat(),
        **details,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def completed_runs(raw_dir: Path, source: str) -> list[dict[str, Any]]:
    """Every manifest of `source`, oldest first by completion time."""
    folder = _manifest_dir(raw_dir, source)
    manifests = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            manifests.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{source}: run manifest {path} cannot be read: {exc}") from exc
    return sorted(manifests, key=lambda manifest: str(manifest.get("completed_at")))


def has_completed_run(raw_dir: Path, source: str) -> bool:
    """Whether any run of `source`, nightly or backfill, completed."""
    return bool(completed_runs(raw_dir, source))


@dataclass(frozen=True)
class SyncState:
    """Where the completed nightly runs of one source left off; None where none did."""

    updated_to: datetime | None = None  # CRM: end of the latest update-time window read
    last_report_day: date | None = None  # ads: the latest report day read
    # CRM: data interval end of the latest run after which a lead missing from the source
    # is known: an id sweep, or the first full load (nothing was staged before it).
    deletions_checked_at: datetime | None = None


def sync_state(raw_dir: Path, source: str, *, until: datetime, exclude_run_id: str) -> SyncState:
    """The cursors of the completed nightly runs of `source` whose data interval ended no
    later than `until`, other than `exclude_run_id`.

    Leaving out the run itself and later intervals makes a rerun of a logical date read
    what its first run read. Manifests without a kind (written before cursors existed)
    count as no run: the next run then reads the whole history again, which is safe.
    """
    nightly = [
        manifest
        for manifest in completed_runs(raw_dir, source)
        if manifest.get("kind") == NIGHTLY
        and manifest.get("run_id") != exclude_run_id
        and manifest.get("data_interval_end")
        and datetime.fromisoformat(manifest["data_interval_end"]) <= until
    ]
    return SyncState(
        updated_to=_latest(nightly, "updated_to", datetime.fromisoformat),
        last_report_day=_latest(nightly, "date_to", date.fromisoformat),
        deletions_checked_at=_latest(nightly, "deletions_checked_at", datetime.fromisoformat),
    )


Moment = TypeVar("Moment", datetime, date)


def _latest(
    manifests: list[dict[str, Any]], key: str, parse: Callable[[str], Moment]
) -> Moment | None:
    return max((parse(manifest[key]) for manifest in manifests if manifest.get(key)), default=None)
