"""HubSpot CRM v3 extractor (private app token): search, batch read, associations, land.

Wire format: ../shared/API_NOTES.md and https://developers.hubspot.com/docs/api/crm
(search, objects, pipelines, associations v4). Contacts and deals modified in a window are
found through `POST /crm/v3/objects/{type}/search` on their last-modified property, sorted
ascending; property values are strings, dates in filters are epoch milliseconds and dates
in answers ISO 8601.

Search pages by offset (`after`) into the current results, so a record edited while they
are listed (its new modified date leaves the window) moves every later record up one place
and the next page would skip one, which no later night brings back. So no page is read by
offset: each is the first page of a new query starting at the last modified time read
(`GTE`), skipping the ids already read at that time (amoCRM's listings do the same). Search
takes one sort, so ties have no order to resume in: when a whole page shares one time, that
time's records are read by id instead (`EQ` that time, `hs_object_id > last id`, sorted by
id), then the listing goes on after it (`GT`). Every page is still one request, and as no
query is read past its first page, the 10,000-result cap of a query is never reached.

Search omits archived records and associations: deal-contact links come from the v4
associations batch read, deal stage history from the batch read with
`propertiesWithHistory=dealstage`, archived records from the objects list with
`archived=true`. Merged-away contacts disappear from every listing; the id sweep finds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from extract.connection import SourceConnection
from extract.http import HttpClient, Pacer, SourceResponseError, get_logger
from extract.landing import RawLanding, RecordParseError, as_object, land_id_listing, utc_now
from extract.progress import Progress

SOURCE = "hubspot"
REQUESTS_PER_SECOND = 5  # the search endpoints' limit per account
SEARCH_PAGE_SIZE = 200  # the search endpoints' maximum `limit`
LIST_PAGE_SIZE = 100  # the objects list endpoints' maximum `limit`
BATCH_SIZE = 100  # inputs per batch read
ID_PROPERTY = "hs_object_id"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Where HubSpot keeps a record's traffic source; accounts with custom utm_* properties
# name theirs in the connection's `extra.utm_properties`.
DEFAULT_UTM_PROPERTIES = (
    "hs_analytics_source",
    "hs_analytics_source_data_1",
    "hs_analytics_source_data_2",
)
# HubSpot's built-in buyer persona: the customer type a contact is (values `persona_1`, …);
# accounts that keep it in a custom property name theirs in `extra.segment_property`.
DEFAULT_SEGMENT_PROPERTY = "hs_persona"
CONTACT_PROPERTIES = (
    "createdate", "lastmodifieddate", "lifecyclestage", "phone", "mobilephone",
    "hs_merged_object_ids",
)  # fmt: skip
DEAL_PROPERTIES = (
    "createdate", "hs_lastmodifieddate", "pipeline", "dealstage", "amount",
    "deal_currency_code", "closedate", "hs_is_closed_won", "hs_is_closed",
)  # fmt: skip
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}

ENTITIES = ("stages", "contacts", "deals", "deal_contacts", "stage_history")
ID_SWEEPS = {"contact_ids": "contacts", "deal_ids": "deals"}

log = get_logger(__name__)

Record = Mapping[str, Any]
Row = dict[str, Any]


def make_client(conn: SourceConnection) -> HttpClient:
    """A client paced to the search limit (the strictest), bearer private app token."""
    return HttpClient(
        SOURCE, base_url=conn.base_url, token=conn.token, pacer=Pacer(REQUESTS_PER_SECOND, 1.0)
    )


def utm_properties(conn: SourceConnection) -> tuple[str, ...]:
    """The properties holding UTM tags: `extra.utm_properties` or HubSpot's analytics ones."""
    configured = conn.extra.get("utm_properties")
    if configured is None:
        return DEFAULT_UTM_PROPERTIES
    if not isinstance(configured, list) or not all(isinstance(p, str) for p in configured):
        raise ValueError(f"{SOURCE}: extra.utm_properties must be a list of property names")
    return tuple(configured)


def segment_property(conn: SourceConnection) -> str:
    """The property holding the customer segment: `extra.segment_property` or the persona."""
    configured = conn.extra.get("segment_property", DEFAULT_SEGMENT_PROPERTY)
    if not isinstance(configured, str) or not configured.strip():
        raise ValueError(f"{SOURCE}: extra.segment_property must be a property name")
    return configured.strip()


def named_properties(conn: SourceConnection) -> tuple[str, ...]:
    """The properties landed by name in each row's `properties` (crm_fields gives their
    roles): the UTM ones and the segment one, each once."""
    return tuple(dict.fromkeys((*utm_properties(conn), segment_property(conn))))


# --- requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    records: list[Any]
    received_at: datetime


def _answer(client: HttpClient, method: str, path: str, **options: Any) -> dict[str, Any]:
    """The decoded JSON object of a 200 answer."""
    response = client.request(method, path, **options)
    shown = f"{SOURCE}: {method} {path}"
    if response.status_code not in (200, 207):  # 207: a batch with some inputs not found
        raise SourceResponseError(f"{shown} answered HTTP {response.status_code}, expected 200")
    try:
        answer = response.json()
    except ValueError:
        raise SourceResponseError(
            f"{shown} returned a body that is not JSON: {response.text[:200]!r}"
        ) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise SourceResponseError(f"{shown} returned no results list")
    return answer


def _next_after(answer: dict[str, Any]) -> str | None:
    """`paging.next.after`, absent on the last page."""
    paging = answer.get("paging")
    after = paging.get("next", {}).get("after") if isinstance(paging, Mapping) else None
    return None if after is None else str(after)


def list_objects(client: HttpClient, object_type: str, params: Mapping[str, Any]) -> Iterator[Page]:
    """Pages of `GET /crm/v3/objects/{type}` until `paging` is absent."""
    after: str | None = None
    while True:
        query = {**params, "limit": LIST_PAGE_SIZE, **({"after": after} if after else {})}
        answer = _answer(client, "GET", f"/crm/v3/objects/{object_type}", params=query)
        yield Page(answer["results"], utc_now())
        after = _next_after(answer)
        if after is None:
            return


def _epoch_ms(moment: datetime) -> str:
    """Epoch milliseconds in integer arithmetic: a float product can lose the last one."""
    plain = datetime.fromisoformat(moment.isoformat())  # Airflow passes pendulum datetimes
    return str((plain - EPOCH) // timedelta(milliseconds=1))


@dataclass(frozen=True)
class _Query:
    """One search query: its filters (ANDed) and the property it sorts on, ascending."""

    filters: tuple[dict[str, str], ...]
    sort: str


def _filter(name: str, operator: str, value: str) -> dict[str, str]:
    return {"propertyName": name, "operator": operator, "value": value}


def search_modified(
    client: HttpClient,
    object_type: str,
    properties: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    page_size: int = SEARCH_PAGE_SIZE,
) -> Iterator[Page]:
    """Pages of the records whose last-modified property is in [start, end), each once
    however the records change meanwhile: every page is a new query from the last
    modified time read (see the module docstring), never an offset.
    """
    modified = MODIFIED_PROPERTY[object_type]
    until = _filter(modified, "LT", _epoch_ms(end))
    since_ms, operator = int(_epoch_ms(start)), "GTE"
    seen_at_since: set[str] = set()  # ids already yielded that were modified at since_ms
    while True:
        query = _Query((_filter(modified, operator, str(since_ms)), until), modified)
        page, more = _search_page(client, object_type, properties, query, page_size)
        fresh = [
            record
            for record in page.records
            # A record read at since_ms and edited since then is back at a later time.
            if _raw_id(record) not in seen_at_since or _modified_ms(record, modified) != since_ms
        ]
        yield Page(fresh, page.received_at)
        if not more:
            return
        times = [_modified_ms(record, modified) for record in page.records]
        last = max(times)
        at_last = {_raw_id(r) for r, ms in zip(page.records, times, strict=True) if ms == last}
        if min(times) < last:
            since_ms, operator, seen_at_since = last, "GTE", at_last
            continue
        # The whole page shares one time, so a query from it would return this page again:
        # read that time's records by id, then go on after it.
        seen = at_last | (seen_at_since if since_ms == last else set())
        at_time = _filter(modified, "EQ", str(last))
        yield from _drain_by_id(client, object_type, properties, at_time, seen, page_size)
        since_ms, operator, seen_at_since = last, "GT", set()


def _drain_by_id(
    client: HttpClient,
    object_type: str,
    properties: Sequence[str],
    at_time: dict[str, str],
    seen: set[str],
    page_size: int,
) -> Iterator[Page]:
    """Every record modified at one time, by ascending id, but those in `seen`; each page
    is a new query after the last id read, so however many share the time, no query pages
    past the result cap and no edit meanwhile moves a record past the reader."""
    last_id: int | None = None
    while True:
        after_id = () if last_id is None else (_filter(ID_PROPERTY, "GT", str(last_id)),)
        query = _Query((at_time, *after_id), ID_PROPERTY)
        page, more = _search_page(client, object_type, properties, query, page_size)
        yield Page([r for r in page.records if _raw_id(r) not in seen], page.received_at)
        if not more:
            return
        ids = [int(i) for r in page.records if (i := _raw_id(r)).isdigit()]
        if not ids or (last_id is not None and max(ids) <= last_id):
            raise SourceResponseError(f"{SOURCE}: {object_type} search by id does not advance")
        last_id = max(ids)


def _search_page(
    client: HttpClient,
    object_type: str,
    properties: Sequence[str],
    query: _Query,
    limit: int,
) -> tuple[Page, bool]:
    """The first `limit` results of a query, and whether more follow."""
    path = f"/crm/v3/objects/{object_type}/search"
    body = {
        "filterGroups": [{"filters": list(query.filters)}],
        "sorts": [{"propertyName": query.sort, "direction": "ASCENDING"}],
        "properties": list(properties),
        "limit": limit,
    }
    answer = _answer(client, "POST", path, json=body)
    more = _next_after(answer) is not None
    if more and not answer["results"]:
        raise SourceResponseError(f"{SOURCE}: {path} offers a next page after an empty one")
    return Page(answer["results"], utc_now()), more


def batch_read_history(client: HttpClient, deal_ids: Sequence[str]) -> Iterator[Page]:
    """Deals by id with the past values of `dealstage`, in batches."""
    for batch in _batches(deal_ids):
        body = {
            "properties": ["dealstage"],
            "propertiesWithHistory": ["dealstage"],
            "inputs": [{"id": i} for i in batch],
        }
        answer = _answer(client, "POST", "/crm/v3/objects/deals/batch/read", json=body)
        yield Page(answer["results"], utc_now())


def batch_read_contacts_of(client: HttpClient, deal_ids: Sequence[str]) -> Iterator[Page]:
    """Each deal's associated contacts (v4 associations), in batches."""
    for batch in _batches(deal_ids):
        body = {"inputs": [{"id": i} for i in batch]}
        path = "/crm/v4/associations/deals/contacts/batch/read"
        answer = _answer(client, "POST", path, json=body)
        yield Page(answer["results"], utc_now())


def _batches(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for offset in range(0, len(ids), BATCH_SIZE):
        yield ids[offset : offset + BATCH_SIZE]


def _raw_id(record: Any) -> str:
    value = record.get("id") if isinstance(record, Mapping) else None
    return "" if value is None else str(value)


def _raw_property(record: Any, name: str) -> str | None:
    properties = record.get("properties") if isinstance(record, Mapping) else None
    return properties.get(name) if isinstance(properties, Mapping) else None


def _modified_ms(record: Any, modified: str) -> int:
    """The record's modified time (ISO in answers) in epoch ms, as filters compare it; a
    record without a readable one fails the listing, since it cannot place the next page."""
    value = _raw_property(record, modified)
    shown = f"{SOURCE}: search returned record {_raw_id(record) or '(no id)'}"
    if not isinstance(value, str):
        raise SourceResponseError(f"{shown} without {modified}: {value!r}")
    try:
        return int(_epoch_ms(_parse_time(value)))
    except RecordParseError as exc:
        raise SourceResponseError(f"{shown} with a bad {modified}: {exc}") from None


# --- parse: field helpers ---------------------------------------------------------------


def _properties(record: Record) -> Record:
    return as_object(record.get("properties") or {}, "properties")


def _text(values: Record, key: str) -> str | None:
    """A property value: HubSpot sends every one as a string, an unset one as null or ""."""
    value = values.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordParseError(f"{key} is not a string: {value!r}")
    return value


def _id(values: Record, key: str) -> int | None:
    """An object id: a string ("512") in records, a number in v4 associations."""
    value = values.get(key)
    if value is None or value == "":
        return None
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit():
        raise RecordParseError(f"{key} is not an id: {value!r}")
    return int(text)


def _required_id(values: Record, key: str) -> int:
    value = _id(values, key)
    if value is None:
        raise RecordParseError(f"{key} is missing")
    return value


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RecordParseError(f"not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise RecordParseError(f"no UTC offset: {value!r}")
    return moment.astimezone(UTC)


def _time(values: Record, key: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 time ("2019-10-30T03:30:17.883Z") as aware UTC."""
    value = _text(values, key)
    if value is None:
        if required:
            raise RecordParseError(f"{key} is missing")
        return None
    try:
        return _parse_time(value)
    except RecordParseError as exc:
        raise RecordParseError(f"{key}: {exc}") from None


def _money(values: Record, key: str) -> Decimal | None:
    value = _text(values, key)
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise RecordParseError(f"{key} is not a decimal: {value!r}") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise RecordParseError(f"{key} has more than 2 decimal places: {value!r}")
    return amount


def _flag(values: Record, key: str) -> bool | None:
    value = _text(values, key)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise RecordParseError(f"{key} is not true or false: {value!r}")
    return value == "true"


def _merged_ids(values: Record) -> list[int]:
    """`hs_merged_object_ids`: the ids merged into this contact, ";"-separated."""
    value = _text(values, "hs_merged_object_ids")
    ids = [] if value is None else [part.strip() for part in value.split(";") if part.strip()]
    if not all(part.isdigit() for part in ids):
        raise RecordParseError(f"hs_merged_object_ids is not a list of ids: {value!r}")
    return [int(part) for part in ids]


def _named(values: Record, names: Sequence[str]) -> list[Row]:
    """The configured properties (UTM tags, segment) as name/value text, in name order."""
    return [{"name": name, "value": _text(values, name)} for name in sorted(names)]


def _archival(record: Record) -> Row:
    archived = record.get("archived", False)
    if not isinstance(archived, bool):
        raise RecordParseError(f"archived is not a boolean: {archived!r}")
    return {"archived": archived, "archived_at": _time(record, "archivedAt")}


# --- parse: one wire record -> one landing row ------------------------------------------


def parse_contact(record: Record, extra_properties: Sequence[str] = ()) -> Row:
    """A contact of search, list or batch read as a `contacts` row."""
    record = as_object(record, "contact")
    values = _properties(record)
    return {
        "contact_id": _required_id(record, "id"),
        "created_at": _time(values, "createdate") or _time(record, "createdAt", required=True),
        "updated_at": _time(values, "lastmodifieddate")
        or _time(record, "updatedAt", required=True),
        "lifecycle_stage": _text(values, "lifecyclestage"),
        "phone": _text(values, "phone"),
        "mobile_phone": _text(values, "mobilephone"),
        "merged_object_ids": _merged_ids(values),
        **_archival(record),
        "properties": _named(values, extra_properties),
    }


def parse_deal(record: Record, extra_properties: Sequence[str] = ()) -> Row:
    """A deal of search, list or batch read as a `deals` row."""
    record = as_object(record, "deal")
    values = _properties(record)
    return {
        "deal_id": _required_id(record, "id"),
        "pipeline_id": _text(values, "pipeline"),
        "stage_id": _text(values, "dealstage"),
        "amount": _money(values, "amount"),
        "currency": _text(values, "deal_currency_code"),
        "created_at": _time(values, "createdate") or _time(record, "createdAt", required=True),
        "updated_at": _time(values, "hs_lastmodifieddate")
        or _time(record, "updatedAt", required=True),
        "closed_at": _time(values, "closedate"),
        "is_closed": _flag(values, "hs_is_closed"),
        "is_closed_won": _flag(values, "hs_is_closed_won"),
        **_archival(record),
        "properties": _named(values, extra_properties),
    }


def parse_pipeline(record: Record) -> list[Row]:
    """A pipeline of GET /crm/v3/pipelines/deals as one `stages` row per stage."""
    record = as_object(record, "pipeline")
    stages = record.get("stages")
    if not isinstance(stages, list):
        raise RecordParseError("stages is not a list")
    pipeline_id = _text(record, "id")
    if pipeline_id is None:
        raise RecordParseError("id is missing")
    rows = []
    for index, stage in enumerate(stages):
        stage = as_object(stage, f"stages[{index}]")
        stage_id = _text(stage, "id")
        if stage_id is None:
            raise RecordParseError(f"stages[{index}].id is missing")
        metadata = as_object(stage.get("metadata") or {}, f"stages[{index}].metadata")
        rows.append(
            {
                "pipeline_id": pipeline_id,
                "pipeline_label": _text(record, "label"),
                "pipeline_order": _display_order(record),
                "stage_id": stage_id,
                "stage_label": _text(stage, "label"),
                "stage_order": _display_order(stage),
                "is_closed": _flag(metadata, "isClosed"),
                "probability": _text(metadata, "probability"),
            }
        )
    return rows


def _display_order(record: Record) -> int | None:
    value = record.get("displayOrder")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordParseError(f"displayOrder is not an integer: {value!r}")
    return value


def parse_stage_history(record: Record) -> list[Row]:
    """A deal of the batch read as one `stage_history` row per `dealstage` value it held."""
    record = as_object(record, "deal")
    deal_id = _required_id(record, "id")
    history = as_object(record.get("propertiesWithHistory") or {}, "propertiesWithHistory")
    values = history.get("dealstage") or []
    if not isinstance(values, list):
        raise RecordParseError("propertiesWithHistory.dealstage is not a list")
    rows = []
    for index, value in enumerate(values):
        value = as_object(value, f"dealstage[{index}]")
        rows.append(
            {
                "deal_id": deal_id,
                "stage_id": _text(value, "value"),
                "changed_at": _time(value, "timestamp", required=True),
                "source_type": _text(value, "sourceType"),
            }
        )
    return rows


def parse_deal_contacts(record: Record) -> list[Row]:
    """A result of the v4 associations batch read as one `deal_contacts` row per contact."""
    record = as_object(record, "association")
    deal_id = _required_id(as_object(record.get("from"), "from"), "id")
    targets = record.get("to") or []
    if not isinstance(targets, list):
        raise RecordParseError("to is not a list")
    return [
        {"deal_id": deal_id, "contact_id": _required_id(as_object(t, "to[]"), "toObjectId")}
        for t in targets
    ]


# --- land -------------------------------------------------------------------------------


def _record_id(record: Any) -> str | None:
    if not isinstance(record, Mapping):
        return None
    value = record.get("id")
    if value is None and isinstance(record.get("from"), Mapping):
        value = record["from"].get("id")
    return None if value is None else str(value)


def land_page(
    landing: RawLanding,
    entity: str,
    noun: str,
    page: Page,
    parse: Callable[[Any], Row | list[Row]],
) -> int:
    """Parse a page into one file; quarantine each record that does not parse."""
    rows: list[Row] = []
    for record in page.records:
        payload = json.dumps(record, ensure_ascii=False)
        try:
            parsed = parse(record)
        except RecordParseError as exc:
            record_id = _record_id(record)
            landing.quarantine(
                entity,
                record_id,
                f"{SOURCE} {noun} {record_id or '(no id)'}: {exc}",
                payload,
                extracted_at=page.received_at,
            )
            continue
        rows.extend({**row, "_payload": payload} for row in _as_rows(parsed))
    landing.write_batch(entity, rows, extracted_at=page.received_at)
    return len(rows)


def _as_rows(parsed: Row | list[Row]) -> list[Row]:
    return parsed if isinstance(parsed, list) else [parsed]


def _land(
    landing: RawLanding,
    entity: str,
    noun: str,
    pages: Iterator[Page],
    parse: Callable[[Any], Row | list[Row]],
) -> None:
    progress = Progress(SOURCE, entity)
    for page in pages:
        land_page(landing, entity, noun, page, parse)
        progress.page(len(page.records))
    progress.finish()


def _check_window(updated_from: datetime, updated_to: datetime) -> None:
    if updated_from.tzinfo is None or updated_to.tzinfo is None:
        raise ValueError(f"{SOURCE}: window bounds must be timezone-aware")
    if updated_from >= updated_to:
        raise ValueError(f"{SOURCE}: empty window [{updated_from}, {updated_to})")


def _stages(http: HttpClient) -> Iterator[Page]:
    answer = _answer(http, "GET", "/crm/v3/pipelines/deals")
    yield Page(answer["results"], utc_now())


def _land_deals(
    landing: RawLanding, http: HttpClient, pages: Iterator[Page], named: Sequence[str]
) -> None:
    """Deals, then for the same ids their contacts and stage history (search has neither)."""
    deal_ids: list[str] = []
    progress = Progress(SOURCE, "deals")
    for page in pages:
        land_page(landing, "deals", "deal", page, lambda r: parse_deal(r, named))
        deal_ids.extend(i for r in page.records if (i := _raw_id(r)))
        progress.page(len(page.records))
    progress.finish()
    contacts = batch_read_contacts_of(http, deal_ids)
    _land(landing, "deal_contacts", "deal association", contacts, parse_deal_contacts)
    history = batch_read_history(http, deal_ids)
    _land(landing, "stage_history", "deal stage history", history, parse_stage_history)


def extract_hubspot(
    conn: SourceConnection,
    landing: RawLanding,
    *,
    updated_from: datetime,
    updated_to: datetime,
    client: HttpClient | None = None,
    page_size: int = SEARCH_PAGE_SIZE,
) -> dict[str, int]:
    """Land the deal stages, the contacts and deals modified in [updated_from, updated_to)
    with those deals' contacts and stage history, and every archived contact and deal;
    rows written per entity.

    `client` replaces the one built from `conn` (tests inject fake sleeps through it);
    `page_size` is the search `limit`, lowered only by tests.
    """
    _check_window(updated_from, updated_to)
    named = named_properties(conn)
    written_before = landing.written
    http = client or make_client(conn)
    log.info("%s: extracting %s .. %s", SOURCE, updated_from, updated_to)
    try:
        _land(landing, "stages", "pipeline", _stages(http), parse_pipeline)
        contact_properties = (*CONTACT_PROPERTIES, *named)
        contacts = search_modified(
            http, "contacts", contact_properties, updated_from, updated_to, page_size=page_size
        )
        _land(landing, "contacts", "contact", contacts, lambda r: parse_contact(r, named))
        deal_properties = (*DEAL_PROPERTIES, *named)
        deals = search_modified(
            http, "deals", deal_properties, updated_from, updated_to, page_size=page_size
        )
        _land_deals(landing, http, deals, named)
        # Archiving leaves the modified date alone and hides a record from search.
        for entity, noun, properties, parse in (
            ("contacts", "archived contact", contact_properties, parse_contact),
            ("deals", "archived deal", deal_properties, parse_deal),
        ):
            params = {"archived": "true", "properties": ",".join(properties)}
            archived = list_objects(http, entity, params)
            _land(landing, entity, noun, archived, lambda r, p=parse: p(r, named))
    finally:
        landing.flush()
        if client is None:
            http.close()
    return landing.written_since(written_before, ENTITIES)


def sweep_ids(
    conn: SourceConnection, landing: RawLanding, *, client: HttpClient | None = None
) -> dict[str, int]:
    """Land the id of every live contact and deal, one file each.

    Archived and merged-away records are not listed, so staging marks a staged record
    gone when the latest sweep does not list it. As amoCRM's sweep: each file carries the
    moment its listing began as `_extracted_at` and is written only once it is complete.
    """
    http = client or make_client(conn)
    counts: dict[str, int] = {}
    try:
        for entity, object_type in ID_SWEEPS.items():
            pages = list_objects(http, object_type, {"archived": "false"})
            id_pages = (
                [_required_id(as_object(r, "record"), "id") for r in page.records] for page in pages
            )
            counts[entity] = land_id_listing(landing, entity, id_pages, "id")
    except RecordParseError as exc:
        raise SourceResponseError(
            f"{SOURCE}: the id sweep got a record without an id: {exc}"
        ) from None
    finally:
        landing.flush()
        if client is None:
            http.close()
    return counts
