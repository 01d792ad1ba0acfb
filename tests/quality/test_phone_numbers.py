from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extract.schemas import SCHEMAS
from funnelhouse import phones
from funnelhouse.phones import refresh_phone_numbers

LANDED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def write_contacts(
    raw_dir: Path, run_key: str, contact_phones: list[list[str | None] | None]
) -> None:
    """Land one amoCRM contacts file: one contact per entry, holding those phone values."""
    count = len(contact_phones)
    rows = {
        "contact_id": list(range(1, count + 1)),
        "created_at": [LANDED_AT] * count,
        "updated_at": [LANDED_AT] * count,
        "is_deleted": [False] * count,
        "phones": [
            None if values is None else [{"value": v, "enum_code": "WORK"} for v in values]
            for values in contact_phones
        ],
        "_source": ["amocrm"] * count,
        "_extracted_at": [LANDED_AT] * count,
        "_run_id": [run_key] * count,
        "_payload": ["{}"] * count,
    }
    folder = raw_dir / "amocrm" / "contacts" / run_key
    folder.mkdir(parents=True)
    table = pa.Table.from_pydict(rows, schema=SCHEMAS[("amocrm", "contacts")])
    pq.write_table(table, folder / "part-00001.parquet")


def phone_table(warehouse: Path) -> dict[str, tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT phone_raw, e164, is_valid, invalid_reason, default_region "
            "FROM enriched.phone_numbers"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


MIXED_CONTACTS: list[list[str | None] | None] = [
    ["89123456789", "+7 912 345-67-89"],  # national and international form of one number
    ["+44 20 7946 0958"],  # a valid foreign number
    ["", "   "],
    ["not a phone", None],
    ["12345"],
    None,
    [],
]

EXPECTED_MIXED = {
    "89123456789": ("+79123456789", True, None, "RU"),
    "+7 912 345-67-89": ("+79123456789", True, None, "RU"),
    "+44 20 7946 0958": ("+442079460958", True, None, "RU"),
    "": (None, False, "no_phone", "RU"),
    "   ": (None, False, "no_phone", "RU"),
    "not a phone": (None, False, "unparseable", "RU"),
    "12345": (None, False, "invalid_number", "RU"),
}


def test_refresh_judges_each_distinct_raw_phone(tmp_path: Path) -> None:
    raw_dir, warehouse = tmp_path / "raw", tmp_path / "w.duckdb"
    write_contacts(raw_dir, "run-1", MIXED_CONTACTS)
    write_contacts(raw_dir, "run-2", [["89123456789"]])  # landed again by a later run

    assert refresh_phone_numbers(warehouse, raw_dir) == len(EXPECTED_MIXED)
    assert phone_table(warehouse) == EXPECTED_MIXED


def test_rerun_adds_only_phones_not_yet_validated(tmp_path: Path) -> None:
    raw_dir, warehouse = tmp_path / "raw", tmp_path / "w.duckdb"
    write_contacts(raw_dir, "run-1", MIXED_CONTACTS)
    refresh_phone_numbers(warehouse, raw_dir)

    assert refresh_phone_numbers(warehouse, raw_dir) == 0
    assert phone_table(warehouse) == EXPECTED_MIXED

    write_contacts(raw_dir, "run-2", [["12345", "+1 650 253 0000"]])
    assert refresh_phone_numbers(warehouse, raw_dir) == 1
    assert phone_table(warehouse)["+1 650 253 0000"] == ("+16502530000", True, None, "RU")


def test_tiny_batches_stream_to_the_same_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_dir = tmp_path / "raw"
    write_contacts(raw_dir, "run-1", MIXED_CONTACTS)
    batch_sizes: list[int] = []
    validate_batch = phones._validate_batch

    def recording_validate_batch(batch: list[str], *args: object) -> pa.Table:
        batch_sizes.append(len(batch))
        return validate_batch(batch, *args)

    monkeypatch.setattr(phones, "_validate_batch", recording_validate_batch)
    assert refresh_phone_numbers(tmp_path / "w.duckdb", raw_dir, batch_size=2) == 7

    assert max(batch_sizes) <= 2
    assert sum(batch_sizes) == 7
    assert phone_table(tmp_path / "w.duckdb") == EXPECTED_MIXED


def test_source_without_landed_files_is_skipped(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    (tmp_path / "raw" / "amocrm" / "contacts").mkdir(parents=True)  # folder, no files yet

    assert refresh_phone_numbers(warehouse, tmp_path / "raw") == 0
    assert phone_table(warehouse) == {}
