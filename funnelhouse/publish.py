"""Safe publication: the copy of the marts BI reads, switched atomically after every run.

BI never opens the working warehouse: DuckDB allows one writer per file, and while the
nightly holds it even read-only opens fail (and a BI tool holding it would block the
nightly). Every run instead writes a new version folder under the publication root
($FUNNELHOUSE_PUBLISH_DIR, else `published/` beside the warehouse file) and then points
`current` at it:

    current -> versions/<version>               a symlink, replaced by one rename
    versions/<version>/funnelhouse.duckdb       schema marts, DuckDB storage v1.0.0
    versions/<version>/parquet/<mart>.parquet   the same tables as Parquet files
    versions/<version>/publication.json         which run, which status, which marts

A run that passed the quality gate publishes its business marts; any other run publishes
the business marts of the last good run again (the same files, hard-linked) together with
a fresh `mart_data_quality`, so a failed night shows in BI while its numbers do not. A
version is built under a temporary name and renamed when complete: a run killed at any
point leaves `current` on the last finished version. Old versions are pruned; a BI
session holding one open keeps reading it (the files are only unlinked).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import duckdb

from expectations.gate import RESULTS_TABLE, create_results_table
from expectations.marts import DATA_QUALITY_MART, MARTS_SCHEMA, business_marts
from extract.landing import run_key

log = logging.getLogger(__name__)

PUBLISH_DIR_ENV = "FUNNELHOUSE_PUBLISH_DIR"
PUBLISHED_DATABASE = "funnelhouse.duckdb"
MANIFEST = "publication.json"
CURRENT = "current"
VERSIONS = "versions"
# Files in this storage format open in DuckDB 1.0 and later, the drivers inside BI tools
# included; DuckDB 2.0's own default format does not open before 2.0.
STORAGE_VERSION = "v1.0.0"
KEEP_VERSIONS = 7
PUBLICATIONS_TABLE = "quality.run_publications"
_UNFINISHED_PREFIX = ".tmp-"

_CREATE_PUBLICATIONS_TABLE = f"""
CREATE SCHEMA IF NOT EXISTS quality;
CREATE TABLE IF NOT EXISTS {PUBLICATIONS_TABLE} (
    run_id VARCHAR NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    publication_status VARCHAR NOT NULL,
    marts_run_id VARCHAR,
    version VARCHAR NOT NULL,
    reason VARCHAR
)
"""

# One row per run x check x scope, every run kept; a run that never reached the gate
# gets one row of its own (check quality_gate, status not_run), so it shows too.
DATA_QUALITY_SQL = f"""
SELECT
    results.run_id, results.checked_at, results.layer, results.check_name, results.scope,
    results.observed_value, results.threshold, results.severity, results.status,
    results.details,
    coalesce(runs.publication_status, 'unknown') AS publication_status,
    runs.marts_run_id, runs.published_at
FROM {RESULTS_TABLE} AS results
LEFT JOIN {PUBLICATIONS_TABLE} AS runs ON results.run_id = runs.run_id
UNION ALL
SELECT
    runs.run_id, runs.published_at, 'pipeline', 'quality_gate', 'all',
    NULL, NULL, 'critical', 'not_run', runs.reason,
    runs.publication_status, runs.marts_run_id, runs.published_at
FROM {PUBLICATIONS_TABLE} AS runs
WHERE NOT EXISTS (SELECT 1 FROM {RESULTS_TABLE} AS results WHERE results.run_id = runs.run_id)
ORDER BY checked_at, run_id, layer, check_name, scope
"""


class GateOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # a critical check failed
    NOT_RUN = "not_run"  # the run failed before the gate


class PublicationStatus(StrEnum):
    PUBLISHED = "published"  # this run's business marts are what BI reads
    BLOCKED = "blocked"  # the gate failed: BI keeps the last good run's business marts
    NOT_CHECKED = "not_checked"  # the run failed before the gate: likewise
    PUBLISH_FAILED = "publish_failed"  # publication itself failed: `current` is unchanged


_STATUS_BY_OUTCOME = {
    GateOutcome.PASSED: PublicationStatus.PUBLISHED,
    GateOutcome.FAILED: PublicationStatus.BLOCKED,
    GateOutcome.NOT_RUN: PublicationStatus.NOT_CHECKED,
}


class PublicationBlocked(RuntimeError):
    """The run published its data-quality results but not its business marts."""


@dataclass(frozen=True)
class Publication:
    version: str
    run_id: str
    status: PublicationStatus
    published_at: datetime
    # The run whose business marts this version holds; None before any run passed.
    marts_run_id: str | None
    marts: tuple[str, ...]
    reason: str | None

    def manifest(self) -> str:
        body = {**asdict(self), "storage_version": STORAGE_VERSION}
        return json.dumps(body, indent=2, default=str)

    @classmethod
    def from_manifest(cls, text: str) -> Publication:
        body = json.loads(text)
        return cls(
            version=body["version"],
            run_id=body["run_id"],
            status=PublicationStatus(body["status"]),
            published_at=datetime.fromisoformat(body["published_at"]),
            marts_run_id=body["marts_run_id"],
            marts=tuple(body["marts"]),
            reason=body["reason"],
        )


def publish_root(warehouse: Path) -> Path:
    """$FUNNELHOUSE_PUBLISH_DIR, else `published/` beside the warehouse file."""
    return Path(os.environ.get(PUBLISH_DIR_ENV, warehouse.parent / "published")).resolve()


def current_publication(root: Path) -> Publication | None:
    """The version BI reads now, or None before the first publication."""
    manifest = root / CURRENT / MANIFEST
    if not manifest.is_file():
        return None
    return Publication.from_manifest(manifest.read_text(encoding="utf-8"))


def current_database(root: Path) -> Path:
    """The published DuckDB file a BI tool opens (read-only), through `current`."""
    return root / CURRENT / PUBLISHED_DATABASE


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _failed_checks(warehouse: Path, run_id: str) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(
            f"SELECT string_agg(check_name || ' (' || scope || ')', ', ' ORDER BY check_name, "
            f"scope) FROM {RESULTS_TABLE} WHERE run_id = ? AND status = 'fail'",
            [run_id],
        ).fetchone()
    return f"critical checks failed: {row[0] if row and row[0] else 'none recorded'}"


def _reason(warehouse: Path, run_id: str, status: PublicationStatus) -> str | None:
    if status is PublicationStatus.BLOCKED:
        return _failed_checks(warehouse, run_id)
    if status is PublicationStatus.NOT_CHECKED:
        return "the run failed before the quality gate"
    return None


def _record(warehouse: Path, publication: Publication) -> None:
    """Replace the run's row in quality.run_publications."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(_CREATE_PUBLICATIONS_TABLE)
        create_results_table(con)
        con.begin()
        con.execute(f"DELETE FROM {PUBLICATIONS_TABLE} WHERE run_id = ?", [publication.run_id])
        con.execute(
            f"INSERT INTO {PUBLICATIONS_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
            [
                publication.run_id,
                publication.published_at,
                publication.status.value,
                publication.marts_run_id,
                publication.version,
                publication.reason,
            ],
        )
        con.commit()


def _export_from_warehouse(warehouse: Path, parquet_dir: Path, marts: tuple[str, ...]) -> None:
    """The given business marts and the data-quality history, as Parquet files."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for mart in marts:
            con.sql(f"FROM {MARTS_SCHEMA}.{_quoted(mart)}").write_parquet(
                str(parquet_dir / f"{mart}.parquet")
            )
        con.sql(DATA_QUALITY_SQL).write_parquet(str(parquet_dir / f"{DATA_QUALITY_MART}.parquet"))


def _link_previous(previous_dir: Path, parquet_dir: Path, marts: tuple[str, ...]) -> None:
    """The last good run's business marts, unchanged: hard links, else copies."""
    for mart in marts:
        source = previous_dir / "parquet" / f"{mart}.parquet"
        target = parquet_dir / source.name
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)


def _build_database(path: Path, parquet_dir: Path, tables: tuple[str, ...]) -> None:
    """A DuckDB file with schema marts holding each Parquet file as a table."""
    with duckdb.connect() as con:
        con.execute(
            f"ATTACH {_sql_string(str(path))} AS published (STORAGE_VERSION '{STORAGE_VERSION}')"
        )
        con.execute(f"CREATE SCHEMA published.{MARTS_SCHEMA}")
        for table in tables:
            con.execute(
                f"CREATE TABLE published.{MARTS_SCHEMA}.{_quoted(table)} AS "
                "SELECT * FROM read_parquet($file)",
                {"file": str(parquet_dir / f"{table}.parquet")},
            )
        con.execute("DETACH published")


def _write_version(
    warehouse: Path, versions: Path, publication: Publication, previous: Publication | None
) -> Path:
    """Build the version under a temporary name; rename it once complete."""
    unfinished = versions / f"{_UNFINISHED_PREFIX}{publication.version}"
    parquet_dir = unfinished / "parquet"
    parquet_dir.mkdir(parents=True)
    fresh_marts = publication.marts if publication.status is PublicationStatus.PUBLISHED else ()
    _export_from_warehouse(warehouse, parquet_dir, fresh_marts)
    if previous is not None and not fresh_marts:
        _link_previous(versions / previous.version, parquet_dir, publication.marts)
    _build_database(
        unfinished / PUBLISHED_DATABASE, parquet_dir, (*publication.marts, DATA_QUALITY_MART)
    )
    (unfinished / MANIFEST).write_text(publication.manifest(), encoding="utf-8")
    final = versions / publication.version
    os.rename(unfinished, final)
    return final


def _switch_current(root: Path, version: str) -> None:
    """Point `current` at the version with one atomic rename of a new symlink."""
    pointer = root / f"{_UNFINISHED_PREFIX}current-{uuid.uuid4().hex}"
    os.symlink(Path(VERSIONS) / version, pointer)
    os.replace(pointer, root / CURRENT)


def _remove_unfinished(root: Path) -> None:
    """Leftovers of a publication killed midway: never pointed at, safe to delete."""
    for leftover in root.glob(f"{_UNFINISHED_PREFIX}*"):
        leftover.unlink()
    for leftover in (root / VERSIONS).glob(f"{_UNFINISHED_PREFIX}*"):
        shutil.rmtree(leftover)


def _prune(root: Path, keep: int, current_version: str) -> None:
    """Delete all but the newest `keep` versions (names sort by publication time)."""
    finished = sorted(
        path.name
        for path in (root / VERSIONS).iterdir()
        if not path.name.startswith(_UNFINISHED_PREFIX)
    )
    for version in finished[: max(len(finished) - keep, 0)]:
        if version != current_version:
            shutil.rmtree(root / VERSIONS / version)


def _marts_to_publish(
    warehouse: Path, status: PublicationStatus, previous: Publication | None
) -> tuple[str, ...]:
    if status is PublicationStatus.PUBLISHED:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return tuple(business_marts(con))
    return previous.marts if previous else ()


def publish_run(
    warehouse: Path,
    root: Path,
    run_id: str,
    outcome: GateOutcome,
    *,
    keep_versions: int = KEEP_VERSIONS,
) -> Publication:
    """Publish the run's data-quality results, and its business marts if the gate passed.

    The caller holds the warehouse-writer slot: the run's publication status is written to
    quality.run_publications first, so the published mart_data_quality carries it.
    """
    (root / VERSIONS).mkdir(parents=True, exist_ok=True)
    _remove_unfinished(root)
    previous = current_publication(root)
    status = _STATUS_BY_OUTCOME[outcome]
    published_at = datetime.now(UTC)
    publication = Publication(
        version=f"{published_at:%Y%m%dT%H%M%S%fZ}-{run_key(run_id)}",
        run_id=run_id,
        status=status,
        published_at=published_at,
        marts_run_id=run_id
        if status is PublicationStatus.PUBLISHED
        else (previous.marts_run_id if previous else None),
        marts=_marts_to_publish(warehouse, status, previous),
        reason=_reason(warehouse, run_id, status),
    )
    _record(warehouse, publication)
    try:
        final = _write_version(warehouse, root / VERSIONS, publication, previous)
        _switch_current(root, publication.version)
    except Exception as exc:
        failed = replace(
            publication,
            status=PublicationStatus.PUBLISH_FAILED,
            marts_run_id=previous.marts_run_id if previous else None,
            reason=f"publication failed: {type(exc).__name__}",
        )
        _record(warehouse, failed)
        raise
    _prune(root, keep_versions, publication.version)
    log.info(
        "published %s (%s): %s, business marts of run %s; BI reads %s",
        final.name,
        status,
        ", ".join((*publication.marts, DATA_QUALITY_MART)),
        publication.marts_run_id,
        current_database(root),
    )
    return publication
