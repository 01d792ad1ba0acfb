"""Raw landing: paths, schema conformity, atomic files, quarantine, bounded batches."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from extract import landing as landing_module
from extract.landing import RawLanding, run_key
from extract.schemas import QUARANTINE, SCHEMAS

RUN_ID = "scheduled__2026-01-01T03:00:00+00:00"
RECEIVED = datetime(2026, 1, 1, 3, 0, 5, tzinfo=UTC)


def loss_reason(reason_id: int, name: str = "Пропала потребность") -> dict[str, Any]:
    return {
        "loss_reason_id": reason_id,
        "name": name,
        "sort": 100,
        "updated_at": datetime(2020, 2, 19, 13, 1, 20, tzinfo=UTC),
        "_payload": f'{{"id": {reason_id}, "name": "{name}"}}',
    }


def parquet_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_run_key_makes_airflow_run_ids_safe_directory_names():
    assert run_key(RUN_ID) == "scheduled__2026-01-01T03_00_00_00_00"
    assert run_key("manual") == "manual"
    with pytest.raises(ValueError, match="no usable directory name"):
        run_key("..")


def test_batch_lands_at_the_documented_path_with_the_exact_schema(tmp_path: Path):
    landing = RawLanding(tmp_path, "amocrm", RUN_ID)
    path = landing.write_batch(
        "loss_reasons", [loss_reason(1), loss_reason(2)], extracted_at=RECEIVED
    )
    expected = (
        tmp_path / "amocrm" / "loss_reasons" / "scheduled__2026-01-01T03_00_00_00_00"
    ) / "part-00001.parquet"
    assert path == expected
    table = pq.read_table(expected)
    assert table.schema.equals(SCHEMAS[("amocrm", "loss_reasons")])
    rows = table.to_pylist()
    assert [r["loss_reason_id"] for r in rows] == [1, 2]
    assert {r["_source"] for r in rows} == {"amocrm"}
    assert {r["_run_id"] for r in rows} == {RUN_ID}
    assert {r["_extracted_at"] for r in rows} == {RECEIVED}
    assert rows[0]["_payload"] == '{"id": 1, "name": "Пропала потребность"}'
    assert landing.written == {"loss_reasons": 2}


def test_extracted_at_is_stored_in_utc(tmp_path: Path):
    moscow = timezone(timedelta(hours=3))
    landing = RawLanding(tmp_path, "amocrm", "manual")
    path = landing.write_batch(
        "loss_reasons", [loss_reason(1)], extracted_at=datetime(2026, 1, 1, 6, 0, tzinfo=moscow)
    )
    assert pq.read_table(path).column("_extracted_at")[0].as_py() == datetime(
        2026, 1, 1, 3, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="timezone-aware"):
        landing.write_batch("loss_reasons", [loss_reason(2)], extracted_at=datetime(2026, 1, 1))


def test_rows_that_do_not_match_the_schema_are_refused(tmp_path: Path):
    landing = RawLanding(tmp_path, "amocrm", "manual")
    misspelt = {**loss_reason(1), "nmae": "typo"}
    with pytest.raises(ValueError, match=r"loss_reasons row 0: .*unexpected \['nmae'\]"):
        landing.write_batch("loss_reasons", [misspelt])
    without_payload = {k: v for k, v in loss_reason(1).items() if k != "_payload"}
    with pytest.raises(ValueError, match=r"missing \['_payload'\]"):
        landing.write_batch("loss_reasons", [without_payload])
    with pytest.raises(ValueError, match="loss_reason_id is required but has nulls"):
        landing.write_batch("loss_reasons", [{**loss_reason(1), "loss_reason_id": None}])
    with pytest.raises(ValueError, match="no landing schema for amocrm entity 'deals'"):
        landing.write_batch("deals", [loss_reason(1)])
    assert parquet_files(tmp_path / "amocrm" / "loss_reasons" / "manual") == []


def test_a_failed_write_leaves_neither_a_part_nor_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def write_half_then_fail(table: Any, where: Path) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(landing_module.pq, "write_table", write_half_then_fail)
    landing = RawLanding(tmp_path, "amocrm", "manual")
    with pytest.raises(OSError, match="disk full"):
        landing.write_batch("loss_reasons", [loss_reason(1)])
    assert parquet_files(tmp_path / "amocrm" / "loss_reasons" / "manual") == []


def test_a_rerun_of_the_same_run_adds_parts_instead_of_overwriting(tmp_path: Path):
    RawLanding(tmp_path, "amocrm", RUN_ID).write_batch("loss_reasons", [loss_reason(1)])
    rerun = RawLanding(tmp_path, "amocrm", RUN_ID)
    rerun.write_batch("loss_reasons", [loss_reason(2)])
    rerun.write_batch("loss_reasons", [loss_reason(3)])
    directory = rerun.entity_dir("loss_reasons")
    assert parquet_files(directory) == [
        "part-00001.parquet",
        "part-00002.parquet",
        "part-00003.parquet",
    ]
    ids = pq.read_table(directory).column("loss_reason_id").to_pylist()
    assert sorted(ids) == [1, 2, 3]


def test_an_empty_batch_writes_nothing(tmp_path: Path):
    landing = RawLanding(tmp_path, "amocrm", "manual")
    assert landing.write_batch("loss_reasons", []) is None
    assert not (tmp_path / "amocrm").exists()


def test_quarantined_records_land_with_reason_and_payload(tmp_path: Path):
    landing = RawLanding(tmp_path, "amocrm", RUN_ID, quarantine_batch_size=2)
    landing.quarantine("leads", "123", "amocrm lead 123: created_at is not an integer", '{"id":1}')
    assert landing.quarantined == {"leads": 1}
    assert not landing.quarantine_dir.exists()  # buffered until the batch fills or flush()
    landing.quarantine("contacts", None, "amocrm contact (no id): id is missing", "{}")
    landing.quarantine("leads", "7", "amocrm lead 7: price is not an integer", '{"id":7}')
    landing.flush()
    assert landing.quarantine_dir == (
        tmp_path / "amocrm" / "_quarantine" / "scheduled__2026-01-01T03_00_00_00_00"
    )
    assert parquet_files(landing.quarantine_dir) == ["part-00001.parquet", "part-00002.parquet"]
    table = pq.read_table(landing.quarantine_dir)
    assert table.schema.equals(QUARANTINE)
    rows = sorted(table.to_pylist(), key=lambda r: r["reason"])
    assert [(r["entity"], r["record_id"]) for r in rows] == [
        ("contacts", None),
        ("leads", "123"),
        ("leads", "7"),
    ]
    assert rows[1]["_payload"] == '{"id":1}' and rows[1]["_source"] == "amocrm"
    assert landing.quarantined == {"leads": 2, "contacts": 1}
    assert landing.written == {}


def test_streamed_rows_are_written_holding_at_most_one_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pulled = 0

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for reason_id in range(2500):
            pulled += 1
            yield loss_reason(reason_id)

    landing = RawLanding(tmp_path, "amocrm", "manual")
    write_batch = landing.write_batch
    pending_at_write: list[int] = []

    def recording_write_batch(entity: str, batch: Any, **kwargs: Any) -> Any:
        pending_at_write.append(pulled - sum(landing.written.values()))
        return write_batch(entity, batch, **kwargs)

    monkeypatch.setattr(landing, "write_batch", recording_write_batch)
    assert landing.write_rows("loss_reasons", rows(), batch_size=1000) == 2500
    assert pending_at_write == [1000, 1000, 500]
    directory = landing.entity_dir("loss_reasons")
    sizes = [pq.read_metadata(directory / name).num_rows for name in parquet_files(directory)]
    assert sizes == [1000, 1000, 500]
