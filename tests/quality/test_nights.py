"""Four nights of one warehouse through the task functions, as the nightly DAG runs them:

1. the reference case: passes the gate with warnings, publishes;
2. killed during the dbt build: publishes nothing but its failure;
3. the next night, with records the extractor had to quarantine: recovers and publishes;
4. a broken phone import (every phone invalid): fails the gate, publishes only its failure.

Expected values come from the sandbox's truth and from what the nights planted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from pipeline_kit import Pipeline, night_run_id

from expectations import QualityGateFailed
from extract.amocrm import land_records, parse_lead
from extract.landing import RawLanding, run_key
from funnelhouse.publish import (
    CURRENT,
    Publication,
    PublicationBlocked,
    current_database,
    current_publication,
    publish_root,
)
from sandbox import Dataset

# Printed by dbt once a staging table of the night has been rebuilt: the warehouse is
# being written when the night is killed there.
STAGING_WRITTEN = "OK created sql incremental model staging."


@dataclass
class Night:
    publication: Publication
    business_digests: dict[str, str]  # sha256 of each published business mart's Parquet file
    gate_error: BaseException | None = None
    publish_error: BaseException | None = None


@dataclass
class Nights:
    pipeline: Pipeline
    nights: dict[int, Night] = field(default_factory=dict)
    killed_build_output: str = ""
    killed_build_returncode: int | None = None
    quarantined: list[dict] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def published(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(current_database(self.root)), read_only=True) as con:
            return con.execute(sql).fetchall()

    @property
    def root(self) -> Path:
        return publish_root(self.pipeline.paths.warehouse)


def _record_night(nights: Nights, night: int, **errors: BaseException | None) -> None:
    publication = current_publication(nights.root)
    assert publication is not None
    folder = nights.root / CURRENT / "parquet"
    digests = {
        mart: hashlib.sha256((folder / f"{mart}.parquet").read_bytes()).hexdigest()
        for mart in publication.marts
    }
    nights.nights[night] = Night(publication, digests, **errors)


def _kill_during_dbt_build(pipeline: Pipeline) -> tuple[str, int]:
    """Run dbt_build in a process of its own and SIGKILL it (dbt included) mid-build."""
    paths = pipeline.paths
    script = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from funnelhouse.dbt import run_dbt\n"
        "from funnelhouse.settings import Paths\n"
        "logging.basicConfig(stream=sys.stdout, level=logging.INFO, format='%(message)s')\n"
        "paths = Paths(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))\n"
        "run_dbt(['build'], paths, target_path=Path(sys.argv[4]))\n"
    )
    arguments = [paths.warehouse, paths.raw_dir, paths.config, pipeline.dbt_target]
    process = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, arguments)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if STAGING_WRITTEN in line:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.stdout.close()
    returncode = process.wait(timeout=60)
    _wait_for_the_lock_to_go(paths.warehouse)
    return "".join(seen), returncode


def _wait_for_the_lock_to_go(warehouse: Path, timeout: float = 60) -> None:
    """dbt, killed with its parent, lets go of the warehouse once it has finished dying."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            duckdb.connect(str(warehouse)).close()
            return
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _plant_quarantined_leads(pipeline: Pipeline, dataset: Dataset, night: int) -> list[dict]:
    """Three leads the CRM sent broken, through the extractor's own parse-or-quarantine."""
    first, second, third = (dict(lead) for lead in dataset.leads[:3])
    broken = [
        {**first, "id": "twenty-one"},
        {key: value for key, value in second.items() if key != "created_at"},
        {**third, "price": "a lot"},
    ]
    landing = RawLanding(pipeline.paths.raw_dir, "amocrm", night_run_id(night))
    landed = land_records(landing, "leads", "lead", broken, parse_lead, datetime.now(UTC))
    landing.flush()
    assert landed == 0
    return broken


def _plant_invalid_phones(pipeline: Pipeline, night: int) -> None:
    """A broken phone import: every contact comes back, a second later, with phone '000'."""
    raw = pipeline.paths.raw_dir / "amocrm" / "contacts" / run_key(night_run_id(1))
    metadata = ("_source", "_extracted_at", "_run_id")
    contacts = [
        {
            **{key: value for key, value in contact.items() if key not in metadata},
            "updated_at": contact["updated_at"] + timedelta(seconds=1),
            "phones": [{"value": "000", "enum_code": "WORK"} for _ in contact["phones"] or []],
        }
        for contact in pq.read_table(raw).to_pylist()
    ]
    RawLanding(pipeline.paths.raw_dir, "amocrm", night_run_id(night)).write_batch(
        "contacts", contacts
    )


class _Collect(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def nights(
    reference: Pipeline, dataset: Dataset, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Nights]:
    pipeline = reference.copy_to(tmp_path_factory.mktemp("nights"))
    result = Nights(pipeline)
    _record_night(result, 1)
    handler = _Collect(result.log)
    loggers = [logging.getLogger(name) for name in ("expectations.gate", "funnelhouse.publish")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        pipeline.extract(2)
        pipeline.validate_phones()
        result.killed_build_output, result.killed_build_returncode = _kill_during_dbt_build(
            pipeline
        )
        with pytest.raises(PublicationBlocked) as blocked:
            pipeline.publish(2, gate_state="upstream_failed")
        _record_night(result, 2, publish_error=blocked.value)

        pipeline.extract(3)
        result.quarantined = _plant_quarantined_leads(pipeline, dataset, 3)
        pipeline.build()
        pipeline.gate(3)
        pipeline.publish(3, gate_state="success")
        _record_night(result, 3)

        pipeline.extract(4)
        _plant_invalid_phones(pipeline, 4)
        pipeline.build()
        with pytest.raises(QualityGateFailed) as failed:
            pipeline.gate(4)
        with pytest.raises(PublicationBlocked) as blocked:
            pipeline.publish(4, gate_state="failed")
        _record_night(result, 4, gate_error=failed.value, publish_error=blocked.value)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    yield result


def _totals(nights: Nights) -> tuple:
    return nights.published(
        "SELECT sum(leads), sum(revenue), sum(spend) FROM marts.mart_unit_economics "
        "WHERE segment = 'all' AND channel = 'all'"
    )[0]


def _run_statuses(nights: Nights) -> dict[str, set[str]]:
    rows = nights.published(
        "SELECT DISTINCT run_id, publication_status FROM marts.mart_data_quality"
    )
    statuses: dict[str, set[str]] = {}
    for run_id, status in rows:
        statuses.setdefault(run_id, set()).add(status)
    return statuses


def test_a_warnings_only_night_publishes_its_marts(reference: Pipeline, dataset: Dataset) -> None:
    publication = current_publication(publish_root(reference.paths.warehouse))
    assert publication is not None
    assert (publication.status, publication.marts_run_id) == ("published", night_run_id(1))
    with duckdb.connect(str(reference.paths.warehouse), read_only=True) as con:
        warnings = con.execute(
            "SELECT count(*) FROM quality.check_results WHERE run_id = ? AND status = 'warn'",
            [night_run_id(1)],
        ).fetchone()[0]
        marts = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
        ).fetchall()
        in_warehouse = con.execute("FROM marts.mart_unit_economics ORDER BY ALL").fetchall()
    assert warnings > 0
    assert set(publication.marts) == {name for (name,) in marts}
    database = current_database(publish_root(reference.paths.warehouse))
    with duckdb.connect(str(database), read_only=True) as con:
        published = con.execute("FROM marts.mart_unit_economics ORDER BY ALL").fetchall()
        leads = con.execute(
            "SELECT sum(leads) FROM marts.mart_unit_economics "
            "WHERE segment = 'all' AND channel = 'all'"
        ).fetchone()[0]
    assert published == in_warehouse
    assert leads == sum(not truth.is_deleted for truth in dataset.truth.values())


def test_a_night_killed_in_the_dbt_build_keeps_the_marts_and_the_next_night_recovers(
    nights: Nights, dataset: Dataset
) -> None:
    assert STAGING_WRITTEN in nights.killed_build_output
    assert nights.killed_build_returncode == -signal.SIGKILL
    killed = nights.nights[2]
    assert (killed.publication.status, killed.publication.marts_run_id) == (
        "not_checked",
        night_run_id(1),
    )
    assert killed.business_digests == nights.nights[1].business_digests
    assert "business marts not published" in str(killed.publish_error)

    recovered = nights.nights[3].publication
    assert (recovered.status, recovered.marts_run_id) == ("published", night_run_id(3))
    live = [truth for truth in dataset.truth.values() if not truth.is_deleted]
    planted_spend = sum(Decimal(row["Cost"]) for row in dataset.ad_stats) / 1_000_000
    leads, revenue, spend = _totals(nights)  # the bad night 4 kept night 3's marts
    assert leads == len(live)
    assert Decimal(str(revenue)) == sum(truth.won_amount for truth in live)
    assert Decimal(str(spend)) == planted_spend


def _canonical(record: dict) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def test_quarantined_records_are_counted_and_kept_not_lost(nights: Nights) -> None:
    counted = nights.published(
        "SELECT scope, observed_value, status FROM marts.mart_data_quality "
        f"WHERE run_id = '{night_run_id(3)}' AND check_name = 'quarantined_records' "
        "ORDER BY scope"
    )
    assert counted == [("all", 3.0, "warn"), ("amocrm/leads", 3.0, "warn")]
    assert any("3 quarantined records" in line for line in nights.log)
    with duckdb.connect(str(nights.pipeline.paths.warehouse), read_only=True) as con:
        kept = con.execute(
            "SELECT source, entity, reason, payload FROM quality.quarantined_records "
            "WHERE run_id = ? ORDER BY reason",
            [night_run_id(3)],
        ).fetchall()
    assert sorted(_canonical(json.loads(payload)) for *_, payload in kept) == sorted(
        _canonical(record) for record in nights.quarantined
    )
    assert {(source, entity) for source, entity, *_ in kept} == {("amocrm", "leads")}
    reasons = " | ".join(reason for _, _, reason, _ in kept)
    for field_name in ("id", "created_at", "price"):
        assert field_name in reasons


def test_a_bad_night_fails_the_gate_keeps_the_marts_and_publishes_its_failure(
    nights: Nights,
) -> None:
    bad = nights.nights[4]
    assert isinstance(bad.gate_error, QualityGateFailed)
    failures = {(row.check_name, row.scope): row for row in bad.gate_error.result.failures}
    assert failures[("valid_phone_share", "all")].observed_value == 0
    assert bad.gate_error.result.data_docs.is_file()

    assert (bad.publication.status, bad.publication.marts_run_id) == (
        "blocked",
        night_run_id(3),
    )
    assert bad.business_digests == nights.nights[3].business_digests
    assert "valid_phone_share (all)" in (bad.publication.reason or "")

    assert _run_statuses(nights) == {
        night_run_id(1): {"published"},
        night_run_id(2): {"not_checked"},
        night_run_id(3): {"published"},
        night_run_id(4): {"blocked"},
    }
    assert nights.published(
        "SELECT status, observed_value, threshold FROM marts.mart_data_quality "
        f"WHERE run_id = '{night_run_id(4)}' AND check_name = 'valid_phone_share'"
    ) == [("fail", 0.0, 0.6)]
    assert nights.published(
        f"SELECT check_name, status FROM marts.mart_data_quality WHERE run_id = '{night_run_id(2)}'"
    ) == [("quality_gate", "not_run")]
