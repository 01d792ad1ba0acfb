"""Bitrix24 REST imitation (incoming webhook): crm.lead/deal/contact/status/stagehistory.list.

Speaks the wire format of shared/API_NOTES.md: `POST /rest/<user_id>/<code>/<method>`
with a JSON body, pages of 50 by `start` with `next` absent on the last page, multi-fields
such as PHONE only when named in `select`, and a leaky bucket (50 requests, draining 2 per
second) answering 503 QUERY_LIMIT_EXCEEDED when full. Stricter than the real portal in one
respect: a filter or order on a field the sandbox does not know is refused with 400, so a
client never mistakes an ignored filter for an applied one.
"""

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sandbox.bitrix24_portal import USER_ID, Portal, generate_portal
from sandbox.generator import Dataset, Json
from sandbox.server import Request, Response, RunningServer, json_response

PAGE_SIZE = 50
BUCKET_SIZE = 50
DRAIN_PER_SECOND = 2.0
APPLICATION_JSON = "application/json"
DATE_FIELDS = frozenset({"DATE_CREATE", "DATE_MODIFY", "DATE_CLOSED", "CLOSEDATE", "CREATED_TIME"})
NUMBER_FIELDS = frozenset({"ID", "OWNER_ID", "LEAD_ID", "CONTACT_ID", "CATEGORY_ID", "TYPE_ID"})
MULTI_FIELDS = frozenset({"PHONE", "EMAIL", "WEB", "IM"})
_CONDITION = re.compile(r"^(>=|<=|!=|>|<|=|!)?([A-Z_0-9]+)$")


def start_bitrix24(
    dataset: Dataset,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = "sandbox-token",
    bucket_size: int = BUCKET_SIZE,
    drain_per_second: float = DRAIN_PER_SECOND,
    portal: Portal | None = None,
) -> RunningServer:
    """Serve the Bitrix24 portal of `dataset` under `{url}/rest/1/<token>/`; a test passes
    `portal` (from `generate_portal`) to change the served records while it runs."""
    portal = portal or generate_portal(dataset)
    api = Bitrix24Api(portal, token, LeakyBucket(bucket_size, drain_per_second))
    return RunningServer(api, host, port)


class LeakyBucket:
    """Each request adds one to the bucket, which drains `drain_per_second`; a request
    that finds it full is refused."""

    def __init__(
        self, size: int, drain_per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._size = size
        self._drain = drain_per_second
        self._clock = clock
        self._level = 0.0
        self._at = clock()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        with self._lock:
            now = self._clock()
            self._level = max(0.0, self._level - (now - self._at) * self._drain)
            self._at = now
            if self._level + 1 > self._size:
                return False
            self._level += 1
            return True


class _BadRequest(Exception):
    pass


class Bitrix24Api:
    def __init__(self, portal: Portal, token: str, bucket: LeakyBucket) -> None:
        self.portal = portal
        self._prefix = f"/rest/{USER_ID}/{token}/"
        self._bucket = bucket
        self._lists: dict[str, Callable[[], list[Json]]] = {
            "crm.lead.list": lambda: portal.leads,
            "crm.deal.list": lambda: portal.deals,
            "crm.contact.list": lambda: portal.contacts,
            "crm.status.list": lambda: portal.statuses,
        }

    def handle(self, request: Request) -> Response:
        if not request.path.startswith(self._prefix):
            return self._error(401, "INVALID_CREDENTIALS", "Invalid request credentials")
        if not self._bucket.admit():
            return self.error(503, "Too many requests")
        method = request.path.removeprefix(self._prefix).removesuffix(".json")
        if request.method != "POST":
            return self._error(405, "ERROR_METHOD_NOT_ALLOWED", f"{request.method} not allowed")
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise _BadRequest("the body is not a JSON object")
            if method == "crm.stagehistory.list":
                return self._stage_history(body)
            records = self._lists.get(method)
            if records is None:
                return self._error(404, "ERROR_METHOD_NOT_FOUND", f"Method not found: {method}")
            result, extra = self._list(records(), body)
            return json_response(200, {"result": result, **extra}, APPLICATION_JSON)
        except (_BadRequest, ValueError) as bad:
            return self._error(400, "INVALID_ARG_VALUE", str(bad))

    def error(self, status: int, detail: str) -> Response:
        if status == 503:
            return self._error(503, "QUERY_LIMIT_EXCEEDED", detail)
        return self._error(status, "INTERNAL_SERVER_ERROR", detail)

    def _error(self, status: int, code: str, detail: str) -> Response:
        return json_response(status, {"error": code, "error_description": detail}, APPLICATION_JSON)

    def _stage_history(self, body: dict[str, Any]) -> Response:
        entity_type = body.pop("entityTypeId", None)
        history = {1: self.portal.lead_history, 2: self.portal.deal_history}.get(
            int(entity_type or 0)
        )
        if history is None:
            raise _BadRequest(f"entityTypeId must be 1 or 2, got {entity_type!r}")
        items, extra = self._list(history, body)
        return json_response(200, {"result": {"items": items}, **extra}, APPLICATION_JSON)

    def _list(self, records: list[Json], body: dict[str, Any]) -> tuple[list[Json], Json]:
        unknown = set(body) - {"select", "filter", "order", "start"}
        if unknown:
            raise _BadRequest(f"unsupported parameters {sorted(unknown)}")
        known = set().union(*(r.keys() for r in records)) if records else set()
        matching = [r for r in records if _matches(r, body.get("filter") or {}, known)]
        matching = _ordered(matching, body.get("order") or {}, known)
        start = int(body.get("start") or 0)
        page = matching[start : start + PAGE_SIZE]
        extra: Json = {"total": len(matching)}
        if start + PAGE_SIZE < len(matching):
            extra["next"] = start + PAGE_SIZE
        selected = body.get("select") or ["*"]
        return [_selected(r, selected) for r in page], extra


def _value(field: str, value: Any) -> Any:
    """A record's or a filter's value as the portal compares it."""
    if value in (None, ""):
        return None
    if field in DATE_FIELDS:
        moment = datetime.fromisoformat(str(value))
        if moment.tzinfo is None:
            raise _BadRequest(f"{field}: a date filter needs an offset, got {value!r}")
        return moment
    if field in NUMBER_FIELDS:
        return int(value)
    return str(value)


def _matches(record: Json, conditions: dict[str, Any], known: set[str]) -> bool:
    for key, wanted in conditions.items():
        match = _CONDITION.match(key)
        if match is None or match.group(2) not in known:
            raise _BadRequest(f"unsupported filter {key!r}")
        operator, field = match.group(1) or "=", match.group(2)
        actual = _value(field, record.get(field))
        options = wanted if isinstance(wanted, list) else [wanted]
        values = [_value(field, w) for w in options]
        if operator in ("!", "!="):
            if actual in values:
                return False
            continue
        if operator == "=":
            if actual not in values:
                return False
            continue
        if actual is None or values[0] is None:
            return False
        comparisons = {
            ">": actual > values[0],
            ">=": actual >= values[0],
            "<": actual < values[0],
            "<=": actual <= values[0],
        }
        if not comparisons[operator]:
            return False
    return True


def _ordered(records: list[Json], order: dict[str, str], known: set[str]) -> list[Json]:
    ordered = records
    for field, direction in reversed(list(order.items())):
        if field not in known or str(direction).upper() not in ("ASC", "DESC"):
            raise _BadRequest(f"unsupported order {field!r}: {direction!r}")
        ordered = sorted(
            ordered,
            key=lambda r, f=field: (r.get(f) in (None, ""), _value(f, r.get(f)) or 0),
            reverse=str(direction).upper() == "DESC",
        )
    return ordered


def _selected(record: Json, select: list[str]) -> Json:
    """The fields `select` names: "*" all but multi-fields and user fields, "UF_*" the user
    fields; a multi-field only when named."""
    wanted = set(select)
    return {
        key: value
        for key, value in record.items()
        if key in wanted
        or ("*" in wanted and key not in MULTI_FIELDS and not key.startswith("UF_"))
        or ("UF_*" in wanted and key.startswith("UF_"))
        or key == "ID"
    }
