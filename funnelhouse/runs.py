"""Completed-extraction manifests: the record of which windows have landed.

An extract writes its manifest only after every file of the run is in place, so a
failed run leaves no manifest and the next run reads its window again.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extract.landing import run_key


def _manifest_dir(raw_dir: Path, source: str) -> Path:
    return raw_dir / source / "_runs"


def write_manifest(raw_dir: Path, source: str, run_id: str, details: dict[str, Any]) -> Path:
    folder = _manifest_dir(raw_dir, source)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_key(run_id)}.json"
    body = {"run_id": run_id, "completed_at": datetime.now(UTC).isoformat(), **details}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def has_completed_run(raw_dir: Path, source: str) -> bool:
    folder = _manifest_dir(raw_dir, source)
    return folder.is_dir() and any(folder.glob("*.json"))
