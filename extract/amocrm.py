"""amoCRM (Kommo) API v4 extractor: auth, paginate, parse, land.

Wire format: ../shared/API_NOTES.md and https://www.amocrm.ru/developers/content/crm_platform/
(leads-api, contacts-api, leads_pipelines, events-and-notes). Lists page through
`_links.next`; an empty page is 204 with no body. Leads and contacts, which change while a
sync runs, are listed by update time with every request re-anchored on the last time seen
(`paginate_by_time`), so an edit during the listing cannot shift a record past the reader.
A record that does not parse goes to quarantine with a reason naming the field, and the
run goes on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, SourceResponseError, get_logger
from extract.landing import RawLanding, RecordParseError, as_object, utc_now
from extract.progress import Progress

SOURCE = "amocrm"
REQUESTS_PER_SECOND = 7
MAX_PAGE_SIZE = 250
MAX_EVENTS_PAGE_SIZE = 100
STATUS_CHANGED_EVENT = "lead_status_changed"
PHONE_FIELD_CODE = "PHONE"

PIPELINES_PATH = "/api/v4/leads/pipelines"
LOSS_REASONS_PATH = "/api/v4/leads/loss_reasons"
LEADS_PATH = "/api/v4/leads"
CONTACTS_PATH = "/api/v4/contacts"
EVENTS_PATH = "/api/v4/events"

ENTITIES = ("statuses", "loss_reasons", "leads", "contacts", "status_changes")
LEAD_IDS = "lead_ids"  # the id sweep's snapshot of every lead the account lists

log = get_logger(__name__)

Record = Mapping[str, Any]
Row = dict[str, Any]


def make_client(conn: SourceConnection) -> HttpClient:
    """An HTTP client paced to amoCRM's documented limit of 7 requests per second."""
    return HttpClient(
        SOURCE,
        base_url=conn.base_url,
        token=conn.token,
        pacer=Pacer(REQUESTS_PER_SECOND, 1.0),
    )


# --- paginate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    records: list[Any]
    received_at: datetime
    done: float | None = None  # share of the listing's time range covered, where known


def paginate(
    client: HttpClient, path: str, embedded_key: str, params: Mapping[str, Any] | None = None
) -> Iterator[Page]:
    """Pages of `_embedded[embedded_key]`, following `_links.next` until it is absent or 204."""
    next_link: str | None = path
    query = params
    followed: set[str] = set()
    while next_link is not None:
        response = client.request("GET", next_link, params=query)
        received_at = utc_now()
        if response.status_code == 204:
            return
        body = _jsonas_object(response)
        yield Page(_embedded_list(body, embedded_key, response), received_at)
        followed.add(next_link)
        href = _dig(body, "_links", "next", "href")
        next_link = href if isinstance(href, str) and href else None
        query = None  # the next link carries the whole query
        if next_link in followed:
            raise SourceResponseError(f"{SOURCE}: pagination loops back to {next_link}")


def paginate_by_time(
    client: HttpClient,
    path: str,
    embedded_key: str,
    params: Mapping[str, Any],
    *,
    field: str,
    start: int,
    end: int | None,
    page_size: int,
) -> Iterator[Page]:
    """Pages of the records whose `field` (unix seconds) is in [start, end], in `field`
    order, each record yielded once however the listing changes meanwhile.

    Page numbers alone are not safe while records change: a record edited after its page
    was read leaves the listing, and the record that then slides back onto that page is
    never seen. So every request starts again at the largest `field` value seen so far
    (`filter[field][from]`), and records already yielded at exactly that value are
    skipped by id (the tie-breaker). Only records sharing one value over whole pages are
    paged through by page number. `end=None` leaves the range open.
    """
    anchor = start
    seen_at_anchor: set[Any] = set()
    page = 1
    while True:
        query = {
            **params,
            "limit": page_size,
            "page": page,
            f"filter[{field}][from]": anchor,
            f"order[{field}]": "asc",
        }
        if end is not None:
            query[f"filter[{field}][to]"] = end
        response = client.request("GET", path, params=query)
        received_at = utc_now()
        if response.status_code == 204:
            return
        body = _jsonas_object(response)
        records = _embedded_list(body, embedded_key, response)
        fresh = [r for r in records if not _seen(r, field, anchor, seen_at_anchor)]
        newest = max(
            (value for r in records if (value := _time_value(r, field)) is not None),
            default=anchor,
        )
        if newest > anchor:
            anchor, page = newest, 1
            seen_at_anchor = {_raw_id(r) for r in records if _time_value(r, field) == newest}
        else:  # the whole page sits at the anchor: read on by page number
            seen_at_anchor |= {_raw_id(r) for r in records if _time_value(r, field) == anchor}
            page += 1
        done = None if end is None or end <= start else min(1.0, (anchor - start) / (end - start))
        yield Page(fresh, received_at, done)
        if not isinstance(_dig(body, "_links", "next", "href"), str):
            return


def _time_value(record: Any, field: str) -> int | None:
    value = record.get(field) if isinstance(record, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _raw_id(record: Any) -> Any:
    return record.get("id") if isinstance(record, Mapping) else None


def _seen(record: Any, field: str, anchor: int, seen_at_anchor: set[Any]) -> bool:
    """Yielded by an earlier request: at the anchor, with an id already seen there. Any
    other record lands, even a repeat: staging keeps one version, a gap is not mended."""
    record_id = _raw_id(record)
    return (
        record_id is not None
        and _time_value(record, field) == anchor
        and record_id in seen_at_anchor
    )


def _embedded_list(body: dict[str, Any], key: str, response: requests.Response) -> list[Any]:
    records = _dig(body, "_embedded", key)
    if not isinstance(records, list):
        raise SourceResponseError(f"{SOURCE}: GET {response.url} returned no _embedded.{key} list")
    return records


def _jsonas_object(response: requests.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise SourceResponseError(
            f"{SOURCE}: GET {response.url} answered HTTP {response.status_code}, expected 200/204"
        )
    try:
        body = response.json()
    except ValueError:
        raise SourceResponseError(
            f"{SOURCE}: GET {response.url} returned a body that is not JSON: "
            f"{response.text[:200]!r}"
        ) from None
    if not isinstance(body, dict):
        raise SourceResponseError(
            f"{SOURCE}: GET {response.url} returned JSON that is not an object"
        )
    return body


def _dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


# --- parse: field helpers ---------------------------------------------------------------


def _int(record: Record, key: str, *, label: str | None = None) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordParseError(f"{label or key} is not an integer: {value!r}")
    return value


def _required_int(record: Record, key: str, *, label: str | None = None) -> int:
    value = _int(record, key, label=label)
    if value is None:
        raise RecordParseError(f"{label or key} is missing")
    return value


def _checked_text(value: Any, label: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise RecordParseError(f"{label} is not a string: {value!r}")


def _text(record: Record, key: str, *, label: str | None = None) -> str | None:
    return _checked_text(record.get(key), label or key)


def _bool(record: Record, key: str) -> bool | None:
    value = record.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise RecordParseError(f"{key} is not a boolean: {value!r}")


def _timestamp(record: Record, key: str, *, required: bool = False) -> datetime | None:
    """A unix-seconds field as an aware UTC datetime."""
    seconds = _required_int(record, key) if required else _int(record, key)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise RecordParseError(f"{key} is not a valid unix timestamp: {seconds!r}") from None


def _list(value: Any, label: str) -> list[Any]:
    if not isinstance(value, list):
        raise RecordParseError(f"{label} is not a list")
    return value


def _value_text(value: Any) -> str | None:
    """A custom field value as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _custom_fields(record: Record) -> list[Row] | None:
    """`custom_fields_values` as landed rows; None when the record does not carry the key."""
    if "custom_fields_values" not in record:
        return None
    fields = record["custom_fields_values"]
    if fields is None:
        return []
    rows = []
    for index, field in enumerate(_list(fields, "custom_fields_values")):
        label = f"custom_fields_values[{index}]"
        field = as_object(field, label)
        values = _list(field.get("values") or [], f"{label}.values")
        rows.append(
            {
                "field_id": _required_int(field, "field_id", label=f"{label}.field_id"),
                "field_code": _text(field, "field_code", label=f"{label}.field_code"),
                "field_name": _text(field, "field_name", label=f"{label}.field_name"),
                "values": [
                    _value_text(as_object(v, f"{label}.values[{i}]").get("value"))
                    for i, v in enumerate(values)
                ],
            }
        )
    return rows


def _phones(record: Record) -> list[Row] | None:
    """Values of the PHONE multitext field, each with its enum_code (WORK, MOB, ...)."""
    if "custom_fields_values" not in record:
        return None
    phones = []
    fields = _list(record["custom_fields_values"] or [], "custom_fields_values")
    for index, field in enumerate(fields):
        label = f"custom_fields_values[{index}]"
        field = as_object(field, label)
        if field.get("field_code") != PHONE_FIELD_CODE:
            continue
        for i, value in enumerate(_list(field.get("values") or [], f"{label}.values")):
            value = as_object(value, f"{label}.values[{i}]")
            # The developer docs' contact example spells the key "enum"; the API sends
            # "enum_code". Accept both so neither loses the phone type.
            enum_code = value.get("enum_code", value.get("enum"))
            phones.append(
                {
                    "value": _value_text(value.get("value")),
                    "enum_code": _checked_text(enum_code, f"{label}.values[{i}].enum_code"),
                }
            )
    return phones


def _lead_contacts(record: Record) -> list[Row] | None:
    embedded = record.get("_embedded")
    if embedded is None or "contacts" not in as_object(embedded, "_embedded"):
        return None
    contacts = []
    for index, contact in enumerate(_list(embedded["contacts"], "_embedded.contacts")):
        label = f"_embedded.contacts[{index}]"
        contact = as_object(contact, label)
        contacts.append(
            {
                "contact_id": _required_int(contact, "id", label=f"{label}.id"),
                "is_main": _bool(contact, "is_main"),
            }
        )
    return contacts


def _lead_status(record: Record, key: str) -> tuple[int | None, int | None]:
    """(pipeline_id, status_id) of an event's value_before/value_after."""
    for index, change in enumerate(_list(record.get(key) or [], key)):
        status = as_object(change, f"{key}[{index}]").get("lead_status")
        if status is not None:
            status = as_object(status, f"{key}[{index}].lead_status")
            label = f"{key}[{index}].lead_status"
            return (
                _int(status, "pipeline_id", label=f"{label}.pipeline_id"),
                _required_int(status, "id", label=f"{label}.id"),
            )
    return None, None


# --- parse: one wire record -> one landing row ------------------------------------------


def parse_lead(record: Record, *, deleted_listing: bool = False) -> Row:
    """A lead of GET /api/v4/leads as a `leads` row.

    Leads listed with `with=only_deleted` carry little more than id and updated_at; they
    land flagged as deleted. Any other lead needs its creation and update times.
    """
    record = as_object(record, "lead")
    is_deleted = True if deleted_listing else _bool(record, "is_deleted")
    return {
        "lead_id": _required_int(record, "id"),
        "price": _int(record, "price"),
        "pipeline_id": _int(record, "pipeline_id"),
        "status_id": _int(record, "status_id"),
        "loss_reason_id": _int(record, "loss_reason_id"),
        "created_at": _timestamp(record, "created_at", required=not is_deleted),
        "updated_at": _timestamp(record, "updated_at", required=not is_deleted),
        "closed_at": _timestamp(record, "closed_at"),
        "is_deleted": is_deleted,
        "contacts": _lead_contacts(record),
        "custom_fields": _custom_fields(record),
    }


def parse_contact(record: Record) -> Row:
    """A contact of GET /api/v4/contacts as a `contacts` row with its phones."""
    record = as_object(record, "contact")
    return {
        "contact_id": _required_int(record, "id"),
        "created_at": _timestamp(record, "created_at", required=True),
        "updated_at": _timestamp(record, "updated_at", required=True),
        "is_deleted": _bool(record, "is_deleted"),
        "phones": _phones(record),
    }


def parse_status_change(record: Record) -> Row:
    """A `lead_status_changed` event of GET /api/v4/events as a `status_changes` row."""
    record = as_object(record, "event")
    event_type = record.get("type")
    if event_type != STATUS_CHANGED_EVENT:
        raise RecordParseError(f"type is {event_type!r}, not {STATUS_CHANGED_EVENT!r}")
    entity_type = record.get("entity_type")
    if entity_type not in (None, "lead"):
        raise RecordParseError(f"entity_type is {entity_type!r}, not 'lead'")
    event_id = record.get("id")
    if isinstance(event_id, bool) or not isinstance(event_id, str | int) or event_id == "":
        raise RecordParseError(f"id is not a string: {event_id!r}")
    pipeline_before, status_before = _lead_status(record, "value_before")
    pipeline_after, status_after = _lead_status(record, "value_after")
    if status_after is None:
        raise RecordParseError("value_after has no lead_status")
    return {
        "event_id": str(event_id),
        "lead_id": _required_int(record, "entity_id"),
        "created_at": _timestamp(record, "created_at", required=True),
        "pipeline_id_before": pipeline_before,
        "status_id_before": status_before,
        "pipeline_id_after": pipeline_after,
        "status_id_after": status_after,
    }


def parse_loss_reason(record: Record) -> Row:
    """A loss reason of GET /api/v4/leads/loss_reasons as a `loss_reasons` row."""
    record = as_object(record, "loss reason")
    return {
        "loss_reason_id": _required_int(record, "id"),
        "name": _text(record, "name"),
        "sort": _int(record, "sort"),
        "updated_at": _timestamp(record, "updated_at"),
    }


@dataclass(frozen=True)
class Pipeline:
    pipeline_id: int
    name: str | None
    sort: int | None
    statuses: list[Any]


def parse_pipeline(record: Record) -> Pipeline:
    """A pipeline of GET /api/v4/leads/pipelines with its raw `_embedded.statuses`."""
    record = as_object(record, "pipeline")
    embedded = as_object(record.get("_embedded") or {}, "_embedded")
    return Pipeline(
        pipeline_id=_required_int(record, "id"),
        name=_text(record, "name"),
        sort=_int(record, "sort"),
        statuses=_list(embedded.get("statuses") or [], "_embedded.statuses"),
    )


def parse_status(record: Record, pipeline: Pipeline) -> Row:
    """One status of a pipeline as a `statuses` row (statuses are keyed per pipeline)."""
    record = as_object(record, "status")
    status_pipeline = _int(record, "pipeline_id")
    if status_pipeline not in (None, pipeline.pipeline_id):
        raise RecordParseError(
            f"pipeline_id {status_pipeline} differs from its pipeline {pipeline.pipeline_id}"
        )
    return {
        "pipeline_id": pipeline.pipeline_id,
        "pipeline_name": pipeline.name,
        "pipeline_sort": pipeline.sort,
        "status_id": _required_int(record, "id"),
        "status_name": _text(record, "name"),
        "status_sort": _int(record, "sort"),
        "status_type": _int(record, "type"),
    }


# --- land -------------------------------------------------------------------------------


def _record_id(record: Any) -> str | None:
    record_id = record.get("id") if isinstance(record, Mapping) else None
    return None if record_id is None else str(record_id)


def land_records(
    landing: RawLanding,
    entity: str,
    noun: str,
    records: list[Any],
    parse: Callable[[Any], Row],
    received_at: datetime,
    record_id: Callable[[Any], str | None] = _record_id,
) -> int:
    """Parse a page of records into one file; quarantine the ones that do not parse."""
    rows = []
    for record in records:
        payload = json.dumps(record, ensure_ascii=False)
        try:
            rows.append({**parse(record), "_payload": payload})
        except RecordParseError as exc:
            identity = record_id(record) or "(no id)"
            landing.quarantine(
                entity,
                record_id(record),
                f"{SOURCE} {noun} {identity}: {exc}",
                payload,
                extracted_at=received_at,
            )
    landing.write_batch(entity, rows, extracted_at=received_at)
    return len(rows)


def _land_pages(
    landing: RawLanding,
    entity: str,
    noun: str,
    pages: Iterator[Page],
    parse: Callable[[Any], Row],
) -> None:
    progress = Progress(SOURCE, entity)
    for page in pages:
        land_records(landing, entity, noun, page.records, parse, page.received_at)
        progress.page(len(page.records), done=page.done)
    progress.finish()


def _land_statuses(landing: RawLanding, client: HttpClient) -> None:
    """One row per pipeline x status; a broken pipeline is quarantined whole."""
    progress = Progress(SOURCE, "statuses")
    for page in paginate(client, PIPELINES_PATH, "pipelines"):
        for record in page.records:
            try:
                pipeline = parse_pipeline(record)
            except RecordParseError as exc:
                landing.quarantine(
                    "statuses",
                    _record_id(record),
                    f"{SOURCE} pipeline {_record_id(record) or '(no id)'}: {exc}",
                    json.dumps(record, ensure_ascii=False),
                    extracted_at=page.received_at,
                )
                continue
            land_records(
                landing,
                "statuses",
                "status",
                pipeline.statuses,
                lambda status, pipeline=pipeline: parse_status(status, pipeline),
                page.received_at,
                record_id=lambda status, pipeline=pipeline: (
                    f"{pipeline.pipeline_id}:{_record_id(status)}"
                ),
            )
        progress.page(len(page.records))
    progress.finish()


def _unix_seconds(start: datetime, end: datetime) -> tuple[int, int]:
    """The half-open [start, end) as inclusive whole unix seconds (the last second before
    `end`), as amoCRM's range filters `filter[f][from]`/`[to]` take them (a scalar filter
    answers 204)."""
    for moment in (start, end):
        if moment.tzinfo is None:
            raise ValueError(f"{SOURCE}: window bounds must be timezone-aware, got {moment}")
    if start >= end:
        raise ValueError(f"{SOURCE}: empty window [{start}, {end})")
    return math.ceil(start.timestamp()), math.ceil(end.timestamp()) - 1


def _check_page_size(page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"{SOURCE}: page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")


def extract_amocrm(
    conn: SourceConnection,
    landing: RawLanding,
    *,
    updated_from: datetime,
    updated_to: datetime,
    page_size: int = MAX_PAGE_SIZE,
    client: HttpClient | None = None,
) -> dict[str, int]:
    """Land amoCRM statuses, loss reasons, and leads, deleted leads, contacts and status
    changes of the window [updated_from, updated_to); return rows written per entity.

    Quarantined records are counted in `landing.quarantined`. `client` replaces the one
    built from `conn` (tests inject fake sleeps through it).
    """
    _check_page_size(page_size)
    first_second, last_second = _unix_seconds(updated_from, updated_to)
    written_before = landing.written
    http = client or make_client(conn)

    def by_update(path: str, key: str, params: Mapping[str, Any]) -> Iterator[Page]:
        return paginate_by_time(
            http,
            path,
            key,
            params,
            field="updated_at",
            start=first_second,
            end=last_second,
            page_size=page_size,
        )

    log.info("%s: extracting %s .. %s from %s", SOURCE, updated_from, updated_to, http.base_url)
    try:
        _land_statuses(landing, http)
        _land_pages(
            landing,
            "loss_reasons",
            "loss reason",
            paginate(http, LOSS_REASONS_PATH, "loss_reasons", {"limit": page_size}),
            parse_loss_reason,
        )
        _land_pages(
            landing,
            "leads",
            "lead",
            by_update(LEADS_PATH, "leads", {"with": "contacts,loss_reason"}),
            parse_lead,
        )
        _land_pages(
            landing,
            "leads",
            "deleted lead",
            by_update(LEADS_PATH, "leads", {"with": "only_deleted"}),
            lambda record: parse_lead(record, deleted_listing=True),
        )
        _land_pages(
            landing,
            "contacts",
            "contact",
            by_update(CONTACTS_PATH, "contacts", {}),
            parse_contact,
        )
        # Events never change once written and the window is closed: page numbers are safe.
        events = {
            "limit": min(page_size, MAX_EVENTS_PAGE_SIZE),
            "filter[type]": STATUS_CHANGED_EVENT,
            "filter[created_at][from]": first_second,
            "filter[created_at][to]": last_second,
        }
        _land_pages(
            landing,
            "status_changes",
            "event",
            paginate(http, EVENTS_PATH, "events", events),
            parse_status_change,
        )
    finally:
        landing.flush()
        if client is None:
            http.close()
    return landing.written_since(written_before, ENTITIES)


def sweep_lead_ids(
    conn: SourceConnection,
    landing: RawLanding,
    *,
    page_size: int = MAX_PAGE_SIZE,
    client: HttpClient | None = None,
) -> dict[str, int]:
    """Land the id of every lead the account lists now (deleted ones are not listed) as
    one `lead_ids` file; return {"lead_ids": ids landed}.

    A deletion does not always change a lead's update time, and the trash empties, so
    windows by update time miss some deletions: staging marks a staged lead deleted when
    the latest sweep does not list it. Every row carries the moment the listing began as
    `_extracted_at`, so only versions landed before it are judged. The file is written
    once the listing is complete, so a sweep that fails midway leaves nothing that could
    pass for a complete one. The listing runs by creation time, which no edit changes.
    """
    _check_page_size(page_size)
    started_at = utc_now()
    ids: set[int] = set()
    http = client or make_client(conn)
    progress = Progress(SOURCE, LEAD_IDS)
    try:
        pages = paginate_by_time(
            http,
            LEADS_PATH,
            "leads",
            {},
            field="created_at",
            start=0,
            end=None,
            page_size=page_size,
        )
        for page in pages:
            for record in page.records:
                try:
                    lead_id = _required_int(as_object(record, "lead"), "id")
                except RecordParseError as exc:
                    landing.quarantine(
                        LEAD_IDS,
                        _record_id(record),
                        f"{SOURCE} lead in the id sweep: {exc}",
                        json.dumps(record, ensure_ascii=False),
                        extracted_at=page.received_at,
                    )
                    continue
                ids.add(lead_id)
            progress.page(len(page.records))
        progress.finish()
        rows = [{"lead_id": i, "_payload": json.dumps({"id": i})} for i in sorted(ids)]
        landing.write_batch(LEAD_IDS, rows, extracted_at=started_at)
    finally:
        landing.flush()
        if client is None:
            http.close()
    return {LEAD_IDS: len(ids)}
