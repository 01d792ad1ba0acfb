"""Raw landing: parsed rows of one source and run as Parquet files, one file per batch.

Layout (see docs/ARCHITECTURE.md):
    {raw_dir}/{source}/{entity}/{run_key}/part-00001.parquet
    {raw_dir}/{source}/_quarantine/{run_key}/part-00001.parquet

Each file is written under a temporary name and renamed when complete, so a reader never
sees half a file. A re-run with the same run id continues the part numbers instead of
overwriting earlier files: staging keeps the newest version of each record anyway.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from extract.progress import Progress
from extract.schemas import LOAD_METADATA, QUARANTINE, SCHEMAS

QUARANTINE_DIR = "_quarantine"
PAYLOAD = "_payload"
_PART = re.compile(r"^part-(\d+)\.parquet$")
_METADATA_SET_BY_LANDING = frozenset(f.name for f in LOAD_METADATA) - {PAYLOAD}

# How a parser hands over a record that did not parse: quarantine(record_id, reason,
# payload), usually `RawLanding.quarantine` bound to one entity and extraction moment.
Quarantine = Callable[[str | None, str, str], None]


class RecordParseError(ValueError):
    """A wire record does not fit its landing schema; the message names the field."""


def as_object(value: Any, label: str) -> Mapping[str, Any]:
    """`value` as a JSON object, or a RecordParseError naming what was expected."""
    if not isinstance(value, Mapping):
        raise RecordParseError(f"{label} is not an object")
    return value


def run_key(run_id: str) -> str:
    """`run_id` made safe as one directory name (Airflow ids contain `:` and `+`)."""
    key = re.sub(r"[^A-Za-z0-9_.-]", "_", run_id).lstrip(".")
    if not key:
        raise ValueError(f"run id {run_id!r} leaves no usable directory name")
    return key


def utc_now() -> datetime:
    return datetime.now(UTC)


class RawLanding:
    """Writes one source's parsed rows and quarantined records for one run."""

    def __init__(
        self,
        raw_dir: Path,
        source: str,
        run_id: str,
        *,
        quarantine_batch_size: int = 1000,
    ) -> None:
        if not any(src == source for src, _ in SCHEMAS):
            raise ValueError(f"no landing schema is defined for source {source!r}")
        self.raw_dir = Path(raw_dir)
        self.source = source
        self.run_id = run_id
        self.run_key = run_key(run_id)
        self._quarantine_batch_size = quarantine_batch_size
        self._quarantine_buffer: list[dict[str, Any]] = []
        self._next_part: dict[Path, int] = {}
        self._written: dict[str, int] = {}
        self._quarantined: dict[str, int] = {}

    @property
    def written(self) -> dict[str, int]:
        """Rows written so far, per entity."""
        return dict(self._written)

    def written_since(self, before: Mapping[str, int], entities: Iterable[str]) -> dict[str, int]:
        """Rows written per entity since `before`, an earlier value of `written`."""
        return {entity: self._written.get(entity, 0) - before.get(entity, 0) for entity in entities}

    @property
    def quarantined(self) -> dict[str, int]:
        """Records quarantined so far (flushed or still buffered), per entity."""
        return dict(self._quarantined)

    def entity_dir(self, entity: str) -> Path:
        return self.raw_dir / self.source / entity / self.run_key

    @property
    def quarantine_dir(self) -> Path:
        return self.raw_dir / self.source / QUARANTINE_DIR / self.run_key

    def write_batch(
        self,
        entity: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        extracted_at: datetime | None = None,
    ) -> Path | None:
        """Write one batch of parsed rows (each with `_payload`) as one file; None if empty."""
        schema = self._schema(entity)
        if not rows:
            return None
        _check_columns(self.source, entity, rows, schema)
        metadata = self._metadata(extracted_at)
        table = self._table(entity, [{**row, **metadata} for row in rows], schema)
        path = self._write(self.entity_dir(entity), table)
        self._written[entity] = self._written.get(entity, 0) + len(rows)
        return path

    def write_rows(
        self,
        entity: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        batch_size: int,
        extracted_at: datetime | None = None,
    ) -> int:
        """Write a stream of rows in files of `batch_size`, holding one batch at a time."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        remaining = iter(rows)
        total = 0
        while batch := list(islice(remaining, batch_size)):
            self.write_batch(entity, batch, extracted_at=extracted_at)
            total += len(batch)
        return total

    def quarantine(
        self,
        entity: str,
        record_id: str | None,
        reason: str,
        payload: str,
        *,
        extracted_at: datetime | None = None,
    ) -> None:
        """Keep a record that could not be parsed, with the reason; nothing is dropped."""
        self._schema(entity)
        self._quarantine_buffer.append(
            {
                "entity": entity,
                "record_id": record_id,
                "reason": reason,
                PAYLOAD: payload,
                **self._metadata(extracted_at),
            }
        )
        self._quarantined[entity] = self._quarantined.get(entity, 0) + 1
        if len(self._quarantine_buffer) >= self._quarantine_batch_size:
            self.flush()

    def flush(self) -> None:
        """Write buffered quarantine records (call when an extraction ends or fails)."""
        if not self._quarantine_buffer:
            return
        table = self._table(QUARANTINE_DIR, self._quarantine_buffer, QUARANTINE)
        self._write(self.quarantine_dir, table)
        self._quarantine_buffer = []

    def _schema(self, entity: str) -> pa.Schema:
        try:
            return SCHEMAS[(self.source, entity)]
        except KeyError:
            raise ValueError(f"no landing schema for {self.source} entity {entity!r}") from None

    def _metadata(self, extracted_at: datetime | None) -> dict[str, Any]:
        extracted_at = extracted_at or utc_now()
        if extracted_at.tzinfo is None:
            raise ValueError("extracted_at must be timezone-aware")
        return {
            "_source": self.source,
            "_extracted_at": extracted_at.astimezone(UTC),
            "_run_id": self.run_id,
        }

    def _table(self, entity: str, rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
        try:
            table = pa.Table.from_pylist(rows, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise ValueError(
                f"{self.source} {entity}: rows do not fit the landing schema: {exc}"
            ) from exc
        for field in schema:
            if not field.nullable and table.column(field.name).null_count:
                raise ValueError(
                    f"{self.source} {entity}: column {field.name} is required but has nulls"
                )
        return table

    def _write(self, directory: Path, table: pa.Table) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        part = self._next_part.get(directory) or _first_free_part(directory)
        self._next_part[directory] = part + 1
        final = directory / f"part-{part:05d}.parquet"
        temporary = directory / f".{final.name}.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_table(table, temporary)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        return final


def _first_free_part(directory: Path) -> int:
    numbers = [int(m.group(1)) for p in directory.iterdir() if (m := _PART.match(p.name))]
    return max(numbers, default=0) + 1


def _check_columns(
    source: str, entity: str, rows: Sequence[Mapping[str, Any]], schema: pa.Schema
) -> None:
    """Fail on a row whose keys differ from the schema (pyarrow would silently null them)."""
    expected = frozenset(schema.names) - _METADATA_SET_BY_LANDING
    for index, row in enumerate(rows):
        if row.keys() != expected:
            missing = sorted(expected - row.keys())
            unexpected = sorted(row.keys() - expected)
            raise ValueError(
                f"{source} {entity} row {index}: columns differ from the landing schema "
                f"(missing {missing}, unexpected {unexpected})"
            )


def land_id_listing(
    landing: RawLanding, entity: str, id_pages: Iterable[Iterable[int]], id_field: str
) -> int:
    """Land one complete listing of a source's ids (an id sweep) as one `entity` file.

    Every row carries the moment the listing began as `_extracted_at`, so staging judges
    only versions landed before it; the file is written once the listing is complete, so
    a sweep that fails midway leaves nothing that could pass for a complete one.
    """
    started_at = utc_now()
    ids: set[int] = set()
    progress = Progress(landing.source, entity)
    for page in id_pages:
        page_ids = list(page)
        ids.update(page_ids)
        progress.page(len(page_ids))
    progress.finish()
    key = entity.removesuffix("s")  # lead_ids -> lead_id
    rows = [{key: i, "_payload": json.dumps({id_field: str(i)})} for i in sorted(ids)]
    landing.write_batch(entity, rows, extracted_at=started_at)
    return len(ids)
