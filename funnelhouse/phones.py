"""The phone validation table `enriched.phone_numbers`, computed once per raw phone string.

Phone validity is decided here, in Python with libphonenumber, never by a regex in SQL:
the dbt models and the quality gate join this table on the raw string. Only strings not
yet in the table are validated, so a nightly refresh costs as much as its new phones.
Rows are never revalidated: after changing the default region, drop the table.
"""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import phonenumbers
import pyarrow as pa

log = logging.getLogger(__name__)

PHONE_TABLE = "enriched.phone_numbers"

PHONE_TABLE_SCHEMA = pa.schema(
    [
        pa.field("phone_raw", pa.string(), nullable=False),
        pa.field("e164", pa.string()),
        pa.field("is_valid", pa.bool_(), nullable=False),
        pa.field("invalid_reason", pa.string()),
        pa.field("default_region", pa.string(), nullable=False),
        pa.field("validated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

_CREATE_PHONE_TABLE = f"""
CREATE SCHEMA IF NOT EXISTS enriched;
CREATE TABLE IF NOT EXISTS {PHONE_TABLE} (
    phone_raw VARCHAR PRIMARY KEY,
    e164 VARCHAR,
    is_valid BOOLEAN NOT NULL,
    invalid_reason VARCHAR,
    default_region VARCHAR NOT NULL,
    validated_at TIMESTAMPTZ NOT NULL
)
"""


@dataclass(frozen=True)
class RawPhoneSource:
    """Where one source's raw phone strings land and how to select them.

    `select_sql` yields one column `phone_raw` from `read_parquet(?)`, the `?` being the
    list of that entity's landing files.
    """

    entity_dir: str
    select_sql: str


# A `phones` column of structs with a `value`: amoCRM contacts, Bitrix24 leads and contacts.
_UNNEST_PHONES = (
    "SELECT phone.value AS phone_raw FROM (SELECT unnest(phones) AS phone FROM read_parquet(?))"
)

# One entry per landed entity that holds phone strings; HubSpot adds its own here.
RAW_PHONE_SOURCES: dict[str, RawPhoneSource] = {
    "amocrm": RawPhoneSource(entity_dir="amocrm/contacts", select_sql=_UNNEST_PHONES),
    # Bitrix24 keeps phones on the lead itself and on the contact of a deal.
    "bitrix24 leads": RawPhoneSource(entity_dir="bitrix24/leads", select_sql=_UNNEST_PHONES),
    "bitrix24 contacts": RawPhoneSource(entity_dir="bitrix24/contacts", select_sql=_UNNEST_PHONES),
    # HubSpot contacts hold a `phone` and a `mobile_phone` string.
    "hubspot": RawPhoneSource(
        entity_dir="hubspot/contacts",
        select_sql="SELECT unnest([phone, mobile_phone]) AS phone_raw FROM read_parquet(?)",
    ),
}


@dataclass(frozen=True)
class PhoneVerdict:
    e164: str | None
    is_valid: bool
    invalid_reason: str | None


def validate_phone(phone_raw: str, default_region: str) -> PhoneVerdict:
    """Judge one raw phone string; a national number is read in `default_region`."""
    if not phone_raw.strip():
        return PhoneVerdict(None, False, "no_phone")
    try:
        number = phonenumbers.parse(phone_raw, default_region)
    except phonenumbers.NumberParseException:
        return PhoneVerdict(None, False, "unparseable")
    if not phonenumbers.is_valid_number(number):
        # No E.164 for an invalid number: dedup on it would join unrelated leads.
        return PhoneVerdict(None, False, "invalid_number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return PhoneVerdict(e164, True, None)


def _landed_files(raw_dir: Path, source: RawPhoneSource) -> list[str]:
    return sorted(str(path) for path in (raw_dir / source.entity_dir).glob("*/*.parquet"))


def _new_phones_query(raw_dir: Path) -> tuple[str, list[list[str]]] | None:
    """SQL and parameters selecting distinct raw phones not yet validated; None if no files."""
    selects: list[str] = []
    params: list[list[str]] = []
    for name, source in RAW_PHONE_SOURCES.items():
        files = _landed_files(raw_dir, source)
        if not files:
            log.info("phone refresh: no landed files for %s under %s", name, source.entity_dir)
            continue
        selects.append(source.select_sql)
        params.append(files)
    if not selects:
        return None
    raw_phones = " UNION ALL ".join(selects)
    sql = f"""
        SELECT DISTINCT raw.phone_raw
        FROM ({raw_phones}) AS raw
        ANTI JOIN {PHONE_TABLE} AS known ON known.phone_raw = raw.phone_raw
        WHERE raw.phone_raw IS NOT NULL
    """
    return sql, params


def _validate_batch(phones: list[str], default_region: str, validated_at: datetime) -> pa.Table:
    verdicts = [validate_phone(phone, default_region) for phone in phones]
    return pa.Table.from_pydict(
        {
            "phone_raw": phones,
            "e164": [verdict.e164 for verdict in verdicts],
            "is_valid": [verdict.is_valid for verdict in verdicts],
            "invalid_reason": [verdict.invalid_reason for verdict in verdicts],
            "default_region": [default_region] * len(phones),
            "validated_at": [validated_at] * len(phones),
        },
        schema=PHONE_TABLE_SCHEMA,
    )


def refresh_phone_numbers(
    warehouse: Path, raw_dir: Path, default_region: str = "RU", batch_size: int = 50_000
) -> int:
    """Validate the raw phone strings not yet in `enriched.phone_numbers`; return their count.

    The caller holds the warehouse-writer slot. New phones stream out of DuckDB in batches
    of `batch_size` and go back in bulk as Arrow tables, so memory stays bounded.
    """
    validated_at = datetime.now(UTC)
    started = time.monotonic()
    validated = 0
    with duckdb.connect(str(warehouse)) as writer:
        writer.execute(_CREATE_PHONE_TABLE)
        query = _new_phones_query(raw_dir)
        if query is None:
            return 0
        sql, params = query
        # A second connection to the same database streams while the first inserts;
        # its snapshot was taken before the first insert, so nothing is read twice.
        with writer.cursor() as reader:
            batches = reader.sql(sql, params=params).to_arrow_reader(batch_size)
            for batch in batches:
                phones = batch.column("phone_raw").to_pylist()
                phone_rows = _validate_batch(phones, default_region, validated_at)
                writer.register("phone_rows", phone_rows)
                writer.execute(f"INSERT INTO {PHONE_TABLE} SELECT * FROM phone_rows")
                writer.unregister("phone_rows")
                validated += len(phones)
                elapsed = time.monotonic() - started
                log.info(
                    "phone refresh: %d new phones validated (%.0f phones/s)",
                    validated,
                    validated / elapsed if elapsed else 0.0,
                )
    log.info("phone refresh done: %d new phones in %.1f s", validated, time.monotonic() - started)
    return validated
