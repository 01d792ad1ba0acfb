"""Bitrix24 REST extractor (incoming webhook): paginate, parse, land.

Wire format: ../shared/API_NOTES.md and https://apidocs.bitrix24.ru (crm.lead.list,
crm.deal.list, crm.contact.list, crm.status.list, crm.stagehistory.list). Every method is
`POST <portal>/rest/<user_id>/<webhook code>/<method>` with a JSON body; the webhook code
is the secret, so it travels only in the URL path that `extract.http.redact` masks.

Lists come in pages of 50 (`start`), `next` absent on the last page. Records are read in
ID order and every request re-anchors on the last ID seen (`>ID`), so a record edited or
deleted while the listing runs cannot shift another one past the reader. The portal's
leaky bucket (50 requests, draining 2 per second) is respected by pacing at the drain rate;
a 503 QUERY_LIMIT_EXCEEDED is retried with backoff by the shared HTTP layer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, SourceResponseError, get_logger
from extract.landing import RawLanding, RecordParseError, as_object, land_id_listing, utc_now
from extract.progress import Progress

SOURCE = "bitrix24"
DRAIN_PER_SECOND = 2  # the leaky bucket's drain rate: pacing at it never fills the bucket
LEAD_ENTITY_TYPE = 1
DEAL_ENTITY_TYPE = 2
UTM_FIELDS = ("UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM")
USER_FIELD_PREFIX = "UF_"
# Multi-fields such as PHONE are returned only when named in `select`; "UF_*" adds the
# single-valued user fields (segment and the like live there).
LEAD_SELECT = (
    "ID", "STATUS_ID", "STATUS_SEMANTIC_ID", "STATUS_DESCRIPTION", "SOURCE_ID", "OPPORTUNITY",
    "CURRENCY_ID", "CONTACT_ID", "DATE_CREATE", "DATE_MODIFY", "DATE_CLOSED", *UTM_FIELDS,
    "PHONE", "UF_*",
)  # fmt: skip
DEAL_SELECT = (
    "ID", "LEAD_ID", "CONTACT_ID", "CATEGORY_ID", "STAGE_ID", "STAGE_SEMANTIC_ID",
    "OPPORTUNITY", "CURRENCY_ID", "DATE_CREATE", "DATE_MODIFY", "CLOSEDATE", "CLOSED",
    *UTM_FIELDS, "UF_*",
)  # fmt: skip
CONTACT_SELECT = ("ID", "DATE_CREATE", "DATE_MODIFY", "PHONE")
STAGE_HISTORY_SELECT = {
    LEAD_ENTITY_TYPE: ("ID", "TYPE_ID", "OWNER_ID", "CREATED_TIME", "STATUS_ID",
                       "STATUS_SEMANTIC_ID"),
    DEAL_ENTITY_TYPE: ("ID", "TYPE_ID", "OWNER_ID", "CREATED_TIME", "CATEGORY_ID", "STAGE_ID",
                       "STAGE_SEMANTIC_ID"),
}  # fmt: skip

ENTITIES = ("statuses", "leads", "deals", "contacts", "stage_history")
ID_SWEEPS = {"lead_ids": "crm.lead.list", "deal_ids": "crm.deal.list"}

log = get_logger(__name__)

Record = Mapping[str, Any]
Row = dict[str, Any]


def webhook_base_url(conn: SourceConnection) -> str:
    """`<portal>/rest/<user_id>/<webhook code>`: the connection's host, login and password."""
    user_id = (conn.login or "").strip()
    if not user_id.isdigit():
        raise ValueError(
            f"{SOURCE}: the connection to {conn.base_url} needs the webhook's user id as its "
            f"login (a number), got {user_id!r}"
        )
    return f"{conn.base_url}/rest/{user_id}/{conn.token}"


def make_client(conn: SourceConnection) -> HttpClient:
    """A client paced to the portal's drain rate; the secret is in the URL, not a header."""
    return HttpClient(
        SOURCE,
        base_url=webhook_base_url(conn),
        token=conn.token,
        pacer=Pacer(DRAIN_PER_SECOND, 1.0),
        bearer=False,
    )


# --- paginate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    records: list[Any]
    received_at: datetime


def call(client: HttpClient, method: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST one REST method; the decoded answer, which must be an object with `result`."""
    response = client.request("POST", f"/{method}", json=dict(body))
    shown = f"{SOURCE}: {method}"
    if response.status_code != 200:
        raise SourceResponseError(f"{shown} answered HTTP {response.status_code}, expected 200")
    try:
        answer = response.json()
    except ValueError:
        raise SourceResponseError(
            f"{shown} returned a body that is not JSON: {response.text[:200]!r}"
        ) from None
    if not isinstance(answer, dict) or "result" not in answer:
        error = answer.get("error") if isinstance(answer, dict) else None
        raise SourceResponseError(f"{shown} returned no result (error: {error!r})")
    return answer


def _page_records(answer: dict[str, Any], method: str, response_key: str | None) -> list[Any]:
    result = answer["result"]
    if response_key is not None:
        result = result.get(response_key) if isinstance(result, Mapping) else None
    if not isinstance(result, list):
        where = f"result.{response_key}" if response_key else "result"
        raise SourceResponseError(f"{SOURCE}: {method} returned no {where} list")
    return result


def paginate(
    client: HttpClient,
    method: str,
    body: Mapping[str, Any],
    *,
    response_key: str | None = None,
) -> Iterator[Page]:
    """Pages of `method` in ID order, re-anchored on the last ID seen, until `next` is absent.

    Offsets alone are not safe while records change: a record that leaves the filter
    after its page was read shifts the next one back onto a page already read. Anchoring
    every request on `>ID` makes the listing immune to that; `next` only says "more".
    """
    filters = dict(body.get("filter") or {})
    last_id: int | None = None
    while True:
        anchored = {**filters, ">ID": last_id} if last_id is not None else filters
        request = {**body, "filter": anchored, "order": {"ID": "ASC"}, "start": 0}
        answer = call(client, method, request)
        received_at = utc_now()
        records = _page_records(answer, method, response_key)
        yield Page(records, received_at)
        ids = [i for r in records if (i := _raw_int_id(r)) is not None]
        if "next" not in answer or not ids:
            return
        if last_id is not None and max(ids) <= last_id:
            raise SourceResponseError(
                f"{SOURCE}: {method} pagination does not advance past ID {last_id}"
            )
        last_id = max(ids)


def _raw_int_id(record: Any) -> int | None:
    value = record.get("ID") if isinstance(record, Mapping) else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- parse: field helpers ---------------------------------------------------------------


def _text(record: Record, key: str) -> str | None:
    """A text field; Bitrix24 sends an unset one as null or ""."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise RecordParseError(f"{key} is not a string: {value!r}")
    return str(value)


def _int(record: Record, key: str) -> int | None:
    """An id or number, which Bitrix24 sends as a string ("21"); "0" and "" mean none for
    links such as CONTACT_ID, which callers decide."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordParseError(f"{key} is not an integer: {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise RecordParseError(f"{key} is not an integer: {value!r}") from None


def _required_int(record: Record, key: str) -> int:
    value = _int(record, key)
    if value is None:
        raise RecordParseError(f"{key} is missing")
    return value


def _link(record: Record, key: str) -> int | None:
    """A link to another record: Bitrix24 sends "0" or null for none."""
    value = _int(record, key)
    return value or None


def _money(record: Record, key: str) -> Decimal | None:
    """OPPORTUNITY arrives as a decimal string ("15000.00"); parsed exactly."""
    value = record.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordParseError(f"{key} is not a decimal string: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise RecordParseError(f"{key} is not a decimal: {value!r}") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise RecordParseError(f"{key} has more than 2 decimal places: {value!r}")
    return amount


def _timestamp(record: Record, key: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 time with its offset ("2021-05-31T15:10:16+03:00") as aware UTC."""
    value = record.get(key)
    if value is None or value == "":
        if required:
            raise RecordParseError(f"{key} is missing")
        return None
    if not isinstance(value, str):
        raise RecordParseError(f"{key} is not a date string: {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordParseError(f"{key} is not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise RecordParseError(f"{key} has no UTC offset: {value!r}")
    return moment.astimezone(UTC)


def _flag(record: Record, key: str) -> bool | None:
    value = record.get(key)
    if value in (None, ""):
        return None
    if value not in ("Y", "N"):
        raise RecordParseError(f"{key} is not Y or N: {value!r}")
    return value == "Y"


def _phones(record: Record) -> list[Row] | None:
    """The PHONE multi-field; None when the record does not carry it (not selected)."""
    if "PHONE" not in record:
        return None
    values = record["PHONE"] or []
    if not isinstance(values, list):
        raise RecordParseError("PHONE is not a list")
    phones = []
    for index, value in enumerate(values):
        value = as_object(value, f"PHONE[{index}]")
        phones.append(
            {
                "value": _text(value, "VALUE"),
                "value_type": _text(value, "VALUE_TYPE"),
            }
        )
    return phones


def _user_fields(record: Record) -> list[Row]:
    """Every UF_* field as text (lists and objects as JSON), in code order."""
    fields = []
    for code in sorted(k for k in record if k.startswith(USER_FIELD_PREFIX)):
        value = record[code]
        if value is not None and not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False)
        fields.append({"field_code": code, "value": value})
    return fields


def _utm(record: Record) -> Row:
    return {field.lower(): _text(record, field) for field in UTM_FIELDS}


# --- parse: one wire record -> one landing row ------------------------------------------


def parse_lead(record: Record) -> Row:
    """A lead of crm.lead.list as a `leads` row."""
    record = as_object(record, "lead")
    return {
        "lead_id": _required_int(record, "ID"),
        "status_id": _text(record, "STATUS_ID"),
        "status_semantic_id": _text(record, "STATUS_SEMANTIC_ID"),
        "status_description": _text(record, "STATUS_DESCRIPTION"),
        "source_id": _text(record, "SOURCE_ID"),
        "opportunity": _money(record, "OPPORTUNITY"),
        "currency_id": _text(record, "CURRENCY_ID"),
        "contact_id": _link(record, "CONTACT_ID"),
        "date_create": _timestamp(record, "DATE_CREATE", required=True),
        "date_modify": _timestamp(record, "DATE_MODIFY", required=True),
        "date_closed": _timestamp(record, "DATE_CLOSED"),
        **_utm(record),
        "phones": _phones(record),
        "user_fields": _user_fields(record),
    }


def parse_deal(record: Record) -> Row:
    """A deal of crm.deal.list as a `deals` row; LEAD_ID is null for a deal made directly."""
    record = as_object(record, "deal")
    return {
        "deal_id": _required_int(record, "ID"),
        "lead_id": _link(record, "LEAD_ID"),
        "contact_id": _link(record, "CONTACT_ID"),
        "category_id": _int(record, "CATEGORY_ID"),
        "stage_id": _text(record, "STAGE_ID"),
        "stage_semantic_id": _text(record, "STAGE_SEMANTIC_ID"),
        "opportunity": _money(record, "OPPORTUNITY"),
        "currency_id": _text(record, "CURRENCY_ID"),
        "date_create": _timestamp(record, "DATE_CREATE", required=True),
        "date_modify": _timestamp(record, "DATE_MODIFY", required=True),
        "closedate": _timestamp(record, "CLOSEDATE"),
        "closed": _flag(record, "CLOSED"),
        **_utm(record),
        "user_fields": _user_fields(record),
    }


def parse_contact(record: Record) -> Row:
    """A contact of crm.contact.list as a `contacts` row with its phones."""
    record = as_object(record, "contact")
    return {
        "contact_id": _required_int(record, "ID"),
        "date_create": _timestamp(record, "DATE_CREATE", required=True),
        "date_modify": _timestamp(record, "DATE_MODIFY", required=True),
        "phones": _phones(record),
    }


def parse_status(record: Record) -> Row:
    """An entry of crm.status.list as a `statuses` row (its semantics in EXTRA, if any)."""
    record = as_object(record, "status")
    entity_id, status_id = _text(record, "ENTITY_ID"), _text(record, "STATUS_ID")
    if entity_id is None or status_id is None:
        raise RecordParseError("ENTITY_ID or STATUS_ID is missing")
    extra = record.get("EXTRA")
    semantics = _text(as_object(extra, "EXTRA"), "SEMANTICS") if extra else None
    return {
        "entity_id": entity_id,
        "status_id": status_id,
        "name": _text(record, "NAME"),
        "sort": _int(record, "SORT"),
        "category_id": _int(record, "CATEGORY_ID"),
        "semantics": semantics or _text(record, "SEMANTICS"),
    }


def parse_stage_history(record: Record, entity_type_id: int) -> Row:
    """An item of crm.stagehistory.list: a lead's STATUS_ID or a deal's STAGE_ID entered."""
    record = as_object(record, "stage history item")
    is_lead = entity_type_id == LEAD_ENTITY_TYPE
    return {
        "entity_type_id": entity_type_id,
        "history_id": _required_int(record, "ID"),
        "type_id": _int(record, "TYPE_ID"),
        "owner_id": _required_int(record, "OWNER_ID"),
        "created_time": _timestamp(record, "CREATED_TIME", required=True),
        "category_id": None if is_lead else _int(record, "CATEGORY_ID"),
        "stage_id": _text(record, "STATUS_ID" if is_lead else "STAGE_ID"),
        "stage_semantic_id": _text(
            record, "STATUS_SEMANTIC_ID" if is_lead else "STAGE_SEMANTIC_ID"
        ),
    }


# --- land -------------------------------------------------------------------------------


def _record_id(record: Any) -> str | None:
    value = record.get("ID") if isinstance(record, Mapping) else None
    return None if value is None else str(value)


def land_page(
    landing: RawLanding, entity: str, noun: str, page: Page, parse: Callable[[Any], Row]
) -> int:
    """Parse a page into one file; quarantine each record that does not parse."""
    rows = []
    for record in page.records:
        payload = json.dumps(record, ensure_ascii=False)
        try:
            rows.append({**parse(record), "_payload": payload})
        except RecordParseError as exc:
            record_id = _record_id(record)
            landing.quarantine(
                entity,
                record_id,
                f"{SOURCE} {noun} {record_id or '(no id)'}: {exc}",
                payload,
                extracted_at=page.received_at,
            )
    landing.write_batch(entity, rows, extracted_at=page.received_at)
    return len(rows)


def _land(
    landing: RawLanding,
    entity: str,
    noun: str,
    pages: Iterator[Page],
    parse: Callable[[Any], Row],
) -> None:
    progress = Progress(SOURCE, entity)
    for page in pages:
        land_page(landing, entity, noun, page, parse)
        progress.page(len(page.records))
    progress.finish()


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"{SOURCE}: window bounds must be timezone-aware, got {moment}")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def extract_bitrix24(
    conn: SourceConnection,
    landing: RawLanding,
    *,
    updated_from: datetime,
    updated_to: datetime,
    client: HttpClient | None = None,
) -> dict[str, int]:
    """Land the statuses, and the leads, deals and contacts modified in
    [updated_from, updated_to) with the stage changes made in it; rows written per entity.

    `client` replaces the one built from `conn` (tests inject fake sleeps through it).
    """
    start, end = _iso(updated_from), _iso(updated_to)
    if updated_from >= updated_to:
        raise ValueError(f"{SOURCE}: empty window [{start}, {end})")
    modified = {">=DATE_MODIFY": start, "<DATE_MODIFY": end}
    written_before = landing.written
    http = client or make_client(conn)
    log.info("%s: extracting %s .. %s", SOURCE, start, end)
    try:
        _land(landing, "statuses", "status", paginate(http, "crm.status.list", {}), parse_status)
        for entity, noun, method, select, parse in (
            ("leads", "lead", "crm.lead.list", LEAD_SELECT, parse_lead),
            ("deals", "deal", "crm.deal.list", DEAL_SELECT, parse_deal),
            ("contacts", "contact", "crm.contact.list", CONTACT_SELECT, parse_contact),
        ):
            body = {"select": list(select), "filter": modified}
            _land(landing, entity, noun, paginate(http, method, body), parse)
        # History items never change once written and the window is closed.
        created = {">=CREATED_TIME": start, "<CREATED_TIME": end}
        for entity_type_id, select in STAGE_HISTORY_SELECT.items():
            body = {"entityTypeId": entity_type_id, "select": list(select), "filter": created}
            _land(
                landing,
                "stage_history",
                "stage history item",
                paginate(http, "crm.stagehistory.list", body, response_key="items"),
                lambda record, t=entity_type_id: parse_stage_history(record, t),
            )
    finally:
        landing.flush()
        if client is None:
            http.close()
    return landing.written_since(written_before, ENTITIES)


def sweep_ids(
    conn: SourceConnection, landing: RawLanding, *, client: HttpClient | None = None
) -> dict[str, int]:
    """Land the id of every lead and every deal the portal lists now, one file each.

    Bitrix24 lists no deleted record, so staging marks a staged record deleted when the
    latest sweep does not list it. As amoCRM's sweep: each file carries the moment its
    listing began as `_extracted_at` and is written only once the listing is complete.
    """
    http = client or make_client(conn)
    counts: dict[str, int] = {}
    try:
        for entity, method in ID_SWEEPS.items():
            pages = paginate(http, method, {"select": ["ID"]})
            id_pages = (
                [_required_int(as_object(r, "record"), "ID") for r in page.records]
                for page in pages
            )
            counts[entity] = land_id_listing(landing, entity, id_pages, "ID")
    except RecordParseError as exc:
        raise SourceResponseError(
            f"{SOURCE}: the id sweep got a record without an id: {exc}"
        ) from None
    finally:
        landing.flush()
        if client is None:
            http.close()
    return counts
