"""HubSpot CRM v3 imitation (private app): objects, search, batch read, pipelines, v4
associations.

Speaks the wire format of shared/API_NOTES.md: every property value a string, dates ISO
8601 in answers and epoch milliseconds in search filters, `paging.next.after` absent on the
last page, search capped at `search_cap` results per query (10,000; paging past it is a
400, while `paging.next` keeps being offered, as the real API does), archived records
invisible to search, associations absent from search answers, and 429 RATE_LIMIT with
`X-HubSpot-RateLimit-*` headers and no Retry-After past `search_per_second`. Stricter than
the real API in one respect: a filter or sort on a property the sandbox does not know is
refused with 400, so a client never mistakes an ignored filter for an applied one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.generator import Json
from sandbox.server import Request, Response, RunningServer, json_response

SEARCH_CAP = 10_000
SEARCH_MAX_LIMIT = 200
LIST_MAX_LIMIT = 100
BATCH_MAX_INPUTS = 100
SEARCH_PER_SECOND = 5
APPLICATION_JSON = "application/json;charset=utf-8"
DATE_PROPERTIES = frozenset({"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate"})
ID_PROPERTY = "hs_object_id"
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "deals": "hs_lastmodifieddate"}
OBJECT_TYPES = tuple(MODIFIED_PROPERTY)
RATE_LIMIT_HEADERS = {
    "X-HubSpot-RateLimit-Daily": "250000",
    "X-HubSpot-RateLimit-Daily-Remaining": "249000",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    "X-HubSpot-RateLimit-Max": "100",
    "X-HubSpot-RateLimit-Remaining": "0",
}


def iso(moment: datetime) -> str:
    """HubSpot's answer format: UTC with milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass
class Account:
    """One HubSpot account's records in wire form (ids as strings), editable while served.

    `contacts` and `deals` map id to `{"properties": {...}, "createdAt", "updatedAt",
    "archived", "archivedAt"?}`; `deal_contacts` maps a deal id to its contact ids,
    `deal_stage_history` a deal id to its `dealstage` values, newest first.
    """

    pipelines: list[Json] = field(default_factory=list)
    contacts: dict[str, Json] = field(default_factory=dict)
    deals: dict[str, Json] = field(default_factory=dict)
    deal_contacts: dict[str, list[str]] = field(default_factory=dict)
    deal_stage_history: dict[str, list[Json]] = field(default_factory=dict)

    def objects(self, object_type: str) -> dict[str, Json]:
        return self.contacts if object_type == "contacts" else self.deals

    def archive(self, object_type: str, object_id: str, at: datetime) -> None:
        """Archive as HubSpot does: hidden from search, modified date left alone."""
        record = self.objects(object_type)[object_id]
        record["archived"] = True
        record["archivedAt"] = iso(at)

    def edit(
        self, object_type: str, object_id: str, at: datetime, properties: Json | None = None
    ) -> None:
        """Edit as HubSpot does: `properties` change and the modified date moves to `at`."""
        record = self.objects(object_type)[object_id]
        record["properties"].update(properties or {})
        record["properties"][MODIFIED_PROPERTY[object_type]] = iso(at)
        record["updatedAt"] = iso(at)

    def merge_contacts(self, gone_id: str, survivor_id: str, at: datetime) -> None:
        """Merge as HubSpot does: the merged-away contact leaves every listing, its deals
        move to the survivor (a deal already linked to it keeps one link), and the survivor,
        modified at `at`, names it in `hs_merged_object_ids`."""
        gone = self.contacts.pop(gone_id)
        for contacts in self.deal_contacts.values():
            moved = (survivor_id if c == gone_id else c for c in contacts)
            contacts[:] = list(dict.fromkeys(moved))
        survivor = self.contacts[survivor_id]["properties"]
        merged = [  # with the contacts merged into the merged-away one before
            *(survivor.get("hs_merged_object_ids") or "").split(";"),
            *(gone["properties"].get("hs_merged_object_ids") or "").split(";"),
            gone_id,
        ]
        merged_ids = ";".join(i for i in merged if i)
        self.edit("contacts", survivor_id, at, {"hs_merged_object_ids": merged_ids})


def wire_record(
    object_id: str, properties: dict[str, str | None], created: datetime, modified: datetime
) -> Json:
    """A record as the account stores it; `properties` gets hs_object_id added."""
    return {
        "properties": {**properties, ID_PROPERTY: object_id},
        "createdAt": iso(created),
        "updatedAt": iso(modified),
        "archived": False,
    }


def start_hubspot(
    account: Account,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = "sandbox-token",
    search_cap: int = SEARCH_CAP,
    search_per_second: float = SEARCH_PER_SECOND,
) -> RunningServer:
    """Serve `account` at `{url}/crm/...` for bearer `token`."""
    api = HubSpotApi(account, token, search_cap, RollingLimit(search_per_second, 1.0))
    return RunningServer(api, host, port)


class RollingLimit:
    """At most `limit` requests in any `window` seconds."""

    def __init__(
        self, limit: float, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        with self._lock:
            now = self._clock()
            while self._times and self._times[0] <= now - self._window:
                self._times.popleft()
            if len(self._times) >= self._limit:
                return False
            self._times.append(now)
            return True


class _BadRequest(Exception):
    pass


class HubSpotApi:
    def __init__(
        self, account: Account, token: str, search_cap: int, search_limit: RollingLimit
    ) -> None:
        self.account = account
        self._token = token
        self._search_cap = search_cap
        self._search_limit = search_limit

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self._token}":
            detail = "Authentication credentials not found."
            return self._error(401, "INVALID_AUTHENTICATION", detail)
        parts = request.path.strip("/").split("/")
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise _BadRequest("the body is not a JSON object")
            return self._route(request, parts, body)
        except (_BadRequest, ValueError, TypeError) as bad:
            return self._error(400, "VALIDATION_ERROR", str(bad))

    def _route(self, request: Request, parts: list[str], body: Json) -> Response:
        method = request.method
        if parts == ["crm", "v3", "pipelines", "deals"] and method == "GET":
            return self._ok({"results": self.account.pipelines})
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4:
            object_type = parts[3]
            if object_type not in OBJECT_TYPES:
                return self._error(404, "OBJECT_NOT_FOUND", f"unknown object {object_type}")
            tail = parts[4:]
            if tail == [] and method == "GET":
                return self._list(object_type, request.query)
            if tail == ["search"] and method == "POST":
                if not self._search_limit.admit():
                    return self.error(429, "You have reached your secondly limit.")
                return self._search(object_type, body)
            if tail == ["batch", "read"] and method == "POST":
                return self._batch_read(object_type, body)
        if parts == ["crm", "v4", "associations", "deals", "contacts", "batch", "read"]:
            return self._associations(body)
        return self._error(404, "NOT_FOUND", f"no route for {method} {request.path}")

    def error(self, status: int, detail: str) -> Response:
        if status == 429:
            payload = {
                "status": "error",
                "message": detail,
                "errorType": "RATE_LIMIT",
                "correlationId": "00000000-0000-0000-0000-000000000000",
                "policyName": "SECONDLY",
            }
            return json_response(429, payload, APPLICATION_JSON, RATE_LIMIT_HEADERS)
        return self._error(status, "INTERNAL_ERROR", detail)

    def _error(self, status: int, category: str, detail: str) -> Response:
        payload = {
            "status": "error",
            "message": detail,
            "correlationId": "00000000-0000-0000-0000-000000000000",
            "category": category,
        }
        return json_response(status, payload, APPLICATION_JSON)

    def _ok(self, payload: Json) -> Response:
        return json_response(200, payload, APPLICATION_JSON)

    # --- objects ------------------------------------------------------------------------

    def _list(self, object_type: str, query: dict[str, list[str]]) -> Response:
        limit = int(_one(query, "limit") or 10)
        if not 1 <= limit <= LIST_MAX_LIMIT:
            raise _BadRequest(f"limit must be 1..{LIST_MAX_LIMIT}, got {limit}")
        archived = (_one(query, "archived") or "false") == "true"
        wanted = [p for v in query.get("properties", []) for p in v.split(",") if p]
        records = [
            (i, r)
            for i, r in sorted(self.account.objects(object_type).items(), key=_by_id)
            if r["archived"] == archived
        ]
        offset = int(_one(query, "after") or 0)
        page = records[offset : offset + limit]
        payload: Json = {"results": [_answered(object_type, i, r, wanted) for i, r in page]}
        if offset + limit < len(records):
            payload["paging"] = _next(offset + limit)
        return self._ok(payload)

    def _search(self, object_type: str, body: Json) -> Response:
        unknown = set(body) - {"filterGroups", "sorts", "properties", "limit", "after", "query"}
        if unknown:
            raise _BadRequest(f"unsupported search parameters {sorted(unknown)}")
        limit = int(body.get("limit") or 10)
        if not 1 <= limit <= SEARCH_MAX_LIMIT:
            raise _BadRequest(f"limit must be 1..{SEARCH_MAX_LIMIT}, got {limit}")
        offset = int(body.get("after") or 0)
        if offset + limit > self._search_cap:
            raise _BadRequest(
                f"paging past {self._search_cap} results is not supported: after={offset}"
            )
        live = [(i, r) for i, r in self.account.objects(object_type).items() if not r["archived"]]
        known = set().union(*(r["properties"].keys() for _, r in live)) | set(
            _default_properties(object_type)
        )
        matching = [(i, r) for i, r in live if _matches(r, body.get("filterGroups"), known)]
        matching = _sorted(matching, body.get("sorts") or [], known)
        page = matching[offset : offset + limit]
        wanted = body.get("properties") or []
        payload: Json = {
            "total": len(matching),
            "results": [_answered(object_type, i, r, wanted, search=True) for i, r in page],
        }
        if offset + limit < len(matching):
            payload["paging"] = _next(offset + limit)  # offered even past the cap
        return self._ok(payload)

    def _batch_read(self, object_type: str, body: Json) -> Response:
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_MAX_INPUTS:
            raise _BadRequest(f"at most {BATCH_MAX_INPUTS} inputs, got {len(inputs)}")
        wanted = body.get("properties") or []
        with_history = body.get("propertiesWithHistory") or []
        if set(with_history) - {"dealstage"} or (with_history and object_type != "deals"):
            raise _BadRequest(f"unsupported propertiesWithHistory {with_history}")
        results = []
        for item in inputs:
            object_id = str(item["id"])
            record = self.account.objects(object_type).get(object_id)
            if record is None:
                continue
            answered = _answered(object_type, object_id, record, wanted)
            if with_history:
                history = self.account.deal_stage_history.get(object_id, [])
                answered["propertiesWithHistory"] = {"dealstage": history}
            results.append(answered)
        return self._ok(_batch_payload(results))

    def _associations(self, body: Json) -> Response:
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_MAX_INPUTS:
            raise _BadRequest(f"at most {BATCH_MAX_INPUTS} inputs, got {len(inputs)}")
        results = []
        for item in inputs:
            deal_id = str(item["id"])
            contacts = self.account.deal_contacts.get(deal_id)
            if not contacts:
                continue  # a deal without contacts is left out, as HubSpot does
            to = [
                {
                    "toObjectId": int(c),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 3, "label": None}
                    ],
                }
                for c in contacts
            ]
            results.append({"from": {"id": deal_id}, "to": to})
        return self._ok(_batch_payload(results))


def _one(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _by_id(item: tuple[str, Json]) -> int:
    return int(item[0])


def _next(after: int) -> Json:
    return {"next": {"after": str(after), "link": f"?after={after}"}}


def _batch_payload(results: list[Json]) -> Json:
    now = iso(datetime.now(UTC))
    return {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}


def _default_properties(object_type: str) -> tuple[str, ...]:
    """The properties every answer carries, asked for or not."""
    return ("createdate", ID_PROPERTY, MODIFIED_PROPERTY[object_type])


def _answered(
    object_type: str, object_id: str, record: Json, wanted: list[str], *, search: bool = False
) -> Json:
    """A record as an answer carries it: the properties asked for plus the defaults."""
    properties = record["properties"]
    names = [*_default_properties(object_type), *wanted]
    shown = {name: properties.get(name) for name in names}
    answered: Json = {
        "id": object_id,
        "properties": shown,
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "archived": record["archived"],
    }
    if record.get("archivedAt") and not search:
        answered["archivedAt"] = record["archivedAt"]
    return answered


def _compared(name: str, value: Any) -> Any:
    """A property's or a filter's value as HubSpot compares it: dates and ids as numbers."""
    if value is None or value == "":
        return None
    if name in DATE_PROPERTIES:
        text = str(value)
        if text.isdigit():
            return int(text)
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    if name == ID_PROPERTY:
        return int(value)
    return str(value)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda a, b: a == b,
    "NEQ": lambda a, b: a != b,
    "GT": lambda a, b: a is not None and a > b,
    "GTE": lambda a, b: a is not None and a >= b,
    "LT": lambda a, b: a is not None and a < b,
    "LTE": lambda a, b: a is not None and a <= b,
}


def _matches(record: Json, groups: Any, known: set[str]) -> bool:
    """Filter groups are ORed, the filters of a group ANDed."""
    if not groups:
        return True
    if not isinstance(groups, list):
        raise _BadRequest("filterGroups is not a list")
    return any(_group_matches(record, g.get("filters") or [], known) for g in groups)


def _group_matches(record: Json, filters: list[Json], known: set[str]) -> bool:
    for condition in filters:
        name, operator = condition.get("propertyName"), condition.get("operator")
        if name not in known or operator not in _OPERATORS:
            raise _BadRequest(f"unsupported filter {name!r} {operator!r}")
        value = condition.get("value")
        if name in DATE_PROPERTIES and not str(value).isdigit():
            raise _BadRequest(f"{name}: a date filter takes epoch milliseconds, got {value!r}")
        actual = _compared(name, record["properties"].get(name))
        if not _OPERATORS[operator](actual, _compared(name, value)):
            return False
    return True


def _sorted(records: list[tuple[str, Json]], sorts: list[Json], known: set[str]) -> list:
    if len(sorts) > 1:
        raise _BadRequest("search takes one sort")
    if not sorts:
        return sorted(records, key=_by_id)
    name, direction = sorts[0].get("propertyName"), sorts[0].get("direction", "ASCENDING")
    if name not in known or direction not in ("ASCENDING", "DESCENDING"):
        raise _BadRequest(f"unsupported sort {name!r} {direction!r}")
    # Ties keep the account's order (insertion), not the id order: a client may not rely
    # on how the real API breaks them.
    return sorted(
        records,
        key=lambda item: _compared(name, item[1]["properties"].get(name)) or 0,
        reverse=direction == "DESCENDING",
    )
