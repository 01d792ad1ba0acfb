"""Safe publication over a small hand-made warehouse: what BI reads changes only when a run
passes the gate, atomically, and every run's data-quality results are published."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from expectations.gate import create_results_table
from funnelhouse import publish
from funnelhouse.publish import (
    CURRENT,
    VERSIONS,
    GateOutcome,
    PublicationStatus,
    current_database,
    current_publication,
    publish_run,
)

CHECKED_AT = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse" / "funnelhouse.duckdb"
    path.parent.mkdir()
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            "CREATE TABLE marts.mart_unit_economics AS SELECT * FROM (VALUES "
            "(DATE '2026-06-01', 'dealer', 'all', 10, 1500.25::DECIMAL(38, 6)), "
            "(DATE '2026-06-01', 'all', 'all', 12, 1800.50::DECIMAL(38, 6))"
            ") AS t(cohort_month, segment, channel, leads, spend)"
        )
        con.execute(
            "CREATE TABLE marts.mart_leads AS SELECT 'amocrm:' || range AS lead_id, "
            "TIMESTAMPTZ '2026-06-01 10:00:00+00' AS created_at FROM range(3)"
        )
        create_results_table(con)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "published"


def record_gate(warehouse: Path, run_id: str, *verdicts: tuple[str, str, float]) -> None:
    """Rows as the gate writes them: (check, status, observed value), scope all."""
    with duckdb.connect(str(warehouse)) as con:
        for check, status, observed in verdicts:
            con.execute(
                "INSERT INTO quality.check_results VALUES (?, ?, 'staging', ?, 'all', ?, 0.6, "
                "'critical', ?, '')",
                [run_id, CHECKED_AT, check, observed, status],
            )


def published_rows(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


def warehouse_rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def digests(root: Path) -> dict[str, str]:
    folder = root / CURRENT / "parquet"
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.iterdir()}


def test_a_passing_run_publishes_its_marts_as_duckdb_and_parquet_for_older_clients(
    warehouse: Path, root: Path
) -> None:
    record_gate(warehouse, "run-1", ("valid_phone_share", "pass", 0.8))

    publication = publish_run(warehouse, root, "run-1", GateOutcome.PASSED)

    assert (root / CURRENT).is_symlink()
    assert (root / CURRENT).resolve() == (root / VERSIONS / publication.version).resolve()
    assert current_publication(root) == publication
    assert publication.marts == ("mart_leads", "mart_unit_economics")
    assert (publication.status, publication.marts_run_id) == ("published", "run-1")
    database = current_database(root)
    for mart in publication.marts:
        sql = f"FROM marts.{mart} ORDER BY ALL"
        assert published_rows(database, sql) == warehouse_rows(warehouse, sql)
        parquet = root / CURRENT / "parquet" / f"{mart}.parquet"
        assert published_rows(database, f"FROM read_parquet('{parquet}') ORDER BY ALL") == (
            warehouse_rows(warehouse, sql)
        )
    assert published_rows(
        database,
        "SELECT run_id, check_name, status, publication_status, marts_run_id "
        "FROM marts.mart_data_quality",
    ) == [("run-1", "valid_phone_share", "pass", "published", "run-1")]
    # Older DuckDB clients (the drivers inside BI tools) open v1.0.0 files, not v2.0 ones.
    assert published_rows(
        database, "SELECT tags['storage_version'] FROM duckdb_databases() WHERE NOT internal"
    ) == [("v1.0.0+",)]


def test_a_failing_run_keeps_the_business_marts_and_publishes_its_failure(
    warehouse: Path, root: Path
) -> None:
    record_gate(warehouse, "run-1", ("valid_phone_share", "pass", 0.8))
    publish_run(warehouse, root, "run-1", GateOutcome.PASSED)
    before = digests(root)
    good = published_rows(current_database(root), "FROM marts.mart_unit_economics ORDER BY ALL")
    # The bad night rebuilt the marts with poisoned numbers, and the gate said so.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE marts.mart_unit_economics SET leads = -1")
    record_gate(warehouse, "run-2", ("valid_phone_share", "fail", 0.2))

    publication = publish_run(warehouse, root, "run-2", GateOutcome.FAILED)

    assert (publication.status, publication.marts_run_id) == ("blocked", "run-1")
    assert publication.reason == "critical checks failed: valid_phone_share (all)"
    after = digests(root)
    assert {name: after[name] for name in before if name != "mart_data_quality.parquet"} == {
        name: digest for name, digest in before.items() if name != "mart_data_quality.parquet"
    }
    database = current_database(root)
    assert published_rows(database, "FROM marts.mart_unit_economics ORDER BY ALL") == good
    assert published_rows(
        database,
        "SELECT run_id, status, observed_value, publication_status, marts_run_id "
        "FROM marts.mart_data_quality ORDER BY run_id",
    ) == [
        ("run-1", "pass", 0.8, "published", "run-1"),
        ("run-2", "fail", 0.2, "blocked", "run-1"),
    ]


def test_a_run_that_never_reached_the_gate_shows_in_the_quality_mart(
    warehouse: Path, root: Path
) -> None:
    publication = publish_run(warehouse, root, "run-1", GateOutcome.NOT_RUN)

    assert (publication.status, publication.marts_run_id, publication.marts) == (
        "not_checked",
        None,
        (),
    )
    assert published_rows(
        current_database(root),
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'",
    ) == [("mart_data_quality",)]
    assert published_rows(
        current_database(root),
        "SELECT run_id, check_name, status, details, publication_status "
        "FROM marts.mart_data_quality",
    ) == [("run-1", "quality_gate", "not_run", "the run failed before the quality gate",
           "not_checked")]  # fmt: skip


def test_a_publication_failing_midway_leaves_current_and_the_next_one_cleans_up(
    warehouse: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_gate(warehouse, "run-1", ("valid_phone_share", "pass", 0.8))
    first = publish_run(warehouse, root, "run-1", GateOutcome.PASSED)
    record_gate(warehouse, "run-2", ("valid_phone_share", "pass", 0.8))

    def disk_full(path: Path, *args: object) -> None:
        path.write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish, "_build_database", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish_run(warehouse, root, "run-2", GateOutcome.PASSED)

    assert current_publication(root) == first
    finished = [p.name for p in (root / VERSIONS).iterdir() if not p.name.startswith(".tmp-")]
    assert finished == [first.version]
    assert warehouse_rows(
        warehouse,
        "SELECT publication_status, marts_run_id, reason FROM quality.run_publications "
        "WHERE run_id = 'run-2'",
    ) == [("publish_failed", "run-1", "publication failed: OSError")]

    monkeypatch.undo()
    second = publish_run(warehouse, root, "run-2", GateOutcome.PASSED)

    assert current_publication(root) == second
    assert not list((root / VERSIONS).glob(".tmp-*"))
    assert warehouse_rows(
        warehouse, "SELECT publication_status FROM quality.run_publications WHERE run_id = 'run-2'"
    ) == [("published",)]


BI_SESSION = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])  # read-write, as some BI tools open a DuckDB file
print(con.execute("SELECT sum(leads) FROM marts.mart_unit_economics").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("SELECT sum(leads) FROM marts.mart_unit_economics").fetchone()[0], flush=True)
"""


def test_a_bi_session_holding_the_published_file_does_not_block_the_next_run(
    warehouse: Path, root: Path
) -> None:
    record_gate(warehouse, "run-1", ("valid_phone_share", "pass", 0.8))
    publish_run(warehouse, root, "run-1", GateOutcome.PASSED)
    session = subprocess.Popen(
        [sys.executable, "-c", BI_SESSION, str(current_database(root))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert session.stdin is not None and session.stdout is not None
    try:
        assert session.stdout.readline().strip() == "22"  # the file is held open now
        with duckdb.connect(str(warehouse)) as con:
            con.execute("UPDATE marts.mart_unit_economics SET leads = leads + 1")
        record_gate(warehouse, "run-2", ("valid_phone_share", "pass", 0.8))

        publish_run(warehouse, root, "run-2", GateOutcome.PASSED)

        assert published_rows(
            current_database(root), "SELECT sum(leads) FROM marts.mart_unit_economics"
        ) == [(24,)]
        session.stdin.write("\n")
        session.stdin.flush()
        assert session.stdout.readline().strip() == "22"  # its session reads its version
    finally:
        session.kill()
        session.wait()


def test_old_versions_are_pruned_but_never_the_current(warehouse: Path, root: Path) -> None:
    for run in range(1, 5):
        record_gate(warehouse, f"run-{run}", ("valid_phone_share", "pass", 0.8))
        latest = publish_run(warehouse, root, f"run-{run}", GateOutcome.PASSED, keep_versions=2)

    versions = sorted(path.name for path in (root / VERSIONS).iterdir())
    assert len(versions) == 2
    assert versions[-1] == latest.version
    assert [name.rsplit("-", 1)[-1] for name in versions] == ["3", "4"]
    assert os.readlink(root / CURRENT) == f"{VERSIONS}/{latest.version}"
    assert latest.status is PublicationStatus.PUBLISHED
