"""amoCRM API v4 imitation: leads, contacts, pipelines, loss reasons and status events.

Speaks the wire format of shared/API_NOTES.md. Stricter than the real API in one respect:
a query parameter the sandbox does not support is refused with 400, so a client never
mistakes an ignored filter for an applied one.
"""

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import urlencode

from sandbox.generator import Dataset, Json
from sandbox.server import Request, Response, RunningServer, json_response

API_PREFIX = "/api/v4"
HAL_JSON = "application/hal+json"
PROBLEM_JSON = "application/problem+json"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 250
MAX_EVENTS_PAGE_SIZE = 100
RETRY_AFTER_SECONDS = 1
LEADS_WITH = frozenset({"contacts", "loss_reason", "only_deleted", "source_id"})
SORTABLE_FIELDS = frozenset({"id", "created_at", "updated_at"})


def move_lead_during_listing(
    server: RunningServer, dataset: Dataset, *, lead_id: int, updated_at: int, before_request: int
) -> None:
    """Edit a lead while a client pages through GET /api/v4/leads, as a user may during a
    sync: just before the `before_request`-th request from now to the leads list is
    answered, the lead's `updated_at` becomes `updated_at`, so it leaves its page in every
    listing ordered or filtered by update time and the records after it shift."""
    lead = next((lead for lead in dataset.leads if lead["id"] == lead_id), None)
    if lead is None:
        raise ValueError(f"the dataset has no lead {lead_id}")
    server.on_request(
        f"{API_PREFIX}/leads", before_request, lambda: lead.__setitem__("updated_at", updated_at)
    )


def start_amocrm(
    dataset: Dataset,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = "sandbox-token",
    max_requests_per_second: int = 7,
) -> RunningServer:
    """Serve `dataset` as amoCRM does under `{url}/api/v4/`; port 0 picks a free port."""
    return RunningServer(AmoCrmApi(dataset, token, max_requests_per_second), host, port)


class _BadRequest(Exception):
    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(f"{parameter}: {detail}")
        self.parameter = parameter
        self.detail = detail


class SlidingWindowLimiter:
    """Admits at most `limit` requests within any `window` seconds."""

    def __init__(
        self, limit: int, window: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._admitted: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        with self._lock:
            now = self._clock()
            while self._admitted and now - self._admitted[0] >= self._window:
                self._admitted.popleft()
            if len(self._admitted) >= self._limit:
                return False
            self._admitted.append(now)
            return True


class _Query:
    """A request's query string: handlers take what they support, leftovers are refused."""

    def __init__(self, params: dict[str, list[str]]) -> None:
        self._params = dict(params)

    def take(self, name: str) -> str | None:
        values = self._params.pop(name, None)
        if values is None:
            return None
        if len(values) > 1:
            raise _BadRequest(name, "given more than once")
        return values[0]

    def take_int(self, name: str) -> int | None:
        value = self.take(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise _BadRequest(name, f"not an integer: {value!r}") from None

    def take_list(self, name: str) -> list[str] | None:
        """`name=a,b`, `name[]=a&name[]=b` or `name[0]=a&name[1]=b`; None when absent."""
        indexed = re.compile(re.escape(name) + r"\[\d*\]")
        keys = [key for key in self._params if key == name or indexed.fullmatch(key)]
        if not keys:
            return None
        return [
            item
            for key in keys
            for value in self._params.pop(key)
            for item in value.split(",")
            if item
        ]

    def take_order(self) -> tuple[str, bool] | None:
        """`order[field]=asc|desc` as (field, descending)."""
        keys = [key for key in self._params if key.startswith("order[")]
        if not keys:
            return None
        if len(keys) > 1:
            raise _BadRequest(keys[1], "only one order is supported")
        key = keys[0]
        direction = self.take(key)
        match = re.fullmatch(r"order\[(\w+)\]", key)
        if match is None or match.group(1) not in SORTABLE_FIELDS:
            raise _BadRequest(key, f"can order by {', '.join(sorted(SORTABLE_FIELDS))} only")
        if direction not in ("asc", "desc"):
            raise _BadRequest(key, "must be asc or desc")
        return match.group(1), direction == "desc"

    def finish(self) -> None:
        if self._params:
            raise _BadRequest(next(iter(self._params)), "not supported by the sandbox")


class AmoCrmApi:
    def __init__(self, dataset: Dataset, token: str, max_requests_per_second: int) -> None:
        self._dataset = dataset
        self._authorization = f"Bearer {token}"
        self._limiter = SlidingWindowLimiter(max_requests_per_second)
        self._routes: dict[str, Callable[[Request, _Query], Response]] = {
            f"{API_PREFIX}/leads": self._leads,
            f"{API_PREFIX}/contacts": self._contacts,
            f"{API_PREFIX}/leads/pipelines": self._pipelines,
            f"{API_PREFIX}/leads/loss_reasons": self._loss_reasons,
            f"{API_PREFIX}/events": self._events,
        }

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != self._authorization:
            return self.error(401, "Access token is missing, invalid or expired")
        if not self._limiter.admit():
            return self.error(429, "More than the allowed requests per second")
        route = self._routes.get(request.path.rstrip("/"))
        if route is None:
            return self.error(404, f"No such resource: {request.path}")
        if request.method != "GET":
            return self.error(405, f"{request.method} is not allowed on {request.path}")
        query = _Query(request.query)
        try:
            return route(request, query)
        except _BadRequest as bad:
            return self._validation_error(bad)

    def error(self, status: int, detail: str) -> Response:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else {}
        return json_response(status, _problem(status, detail), PROBLEM_JSON, headers)

    # Endpoints -------------------------------------------------------------------------

    def _leads(self, request: Request, query: _Query) -> Response:
        page, limit = _paging(query, MAX_PAGE_SIZE)
        with_ = set(query.take_list("with") or [])
        if unknown := with_ - LEADS_WITH:
            raise _BadRequest("with", f"unsupported values: {', '.join(sorted(unknown))}")
        matches = _record_filter(query, "filter[id]", ("created_at", "updated_at"))
        order = query.take_order()
        query.finish()
        deleted = "only_deleted" in with_  # the real API lists deleted leads only then
        leads = [lead for lead in self._dataset.leads if lead["is_deleted"] == deleted]
        leads = _sorted([lead for lead in leads if matches(lead)], order)
        reasons = {reason["id"]: reason for reason in self._dataset.loss_reasons}

        def render(lead: Json) -> Json:
            return self._render_lead(request.base_url, lead, with_, reasons)

        return _page(request, "leads", leads, page, limit, render)

    def _contacts(self, request: Request, query: _Query) -> Response:
        page, limit = _paging(query, MAX_PAGE_SIZE)
        matches = _record_filter(query, "filter[id]", ("created_at", "updated_at"))
        order = query.take_order()
        query.finish()
        contacts = _sorted([c for c in self._dataset.contacts if matches(c)], order)

        def render(contact: Json) -> Json:
            return {**contact, "_links": _self_link(request.base_url, f"contacts/{contact['id']}")}

        return _page(request, "contacts", contacts, page, limit, render)

    def _pipelines(self, request: Request, query: _Query) -> Response:
        query.finish()
        base = request.base_url
        pipelines = [
            {
                **pipeline,
                "_links": _self_link(base, f"leads/pipelines/{pipeline['id']}"),
                "_embedded": {
                    "statuses": [
                        {
                            **status,
                            "_links": _self_link(
                                base, f"leads/pipelines/{pipeline['id']}/statuses/{status['id']}"
                            ),
                        }
                        for status in pipeline["_embedded"]["statuses"]
                    ]
                },
            }
            for pipeline in self._dataset.pipelines
        ]
        body = {
            "_total_items": len(pipelines),
            "_links": _self_link(base, "leads/pipelines"),
            "_embedded": {"pipelines": pipelines},
        }
        return json_response(200, body, HAL_JSON)

    def _loss_reasons(self, request: Request, query: _Query) -> Response:
        page, limit = _paging(query, MAX_PAGE_SIZE)
        query.finish()

        def render(reason: Json) -> Json:
            link = _self_link(request.base_url, f"leads/loss_reasons/{reason['id']}")
            return {**reason, "_links": link}

        return _page(request, "loss_reasons", self._dataset.loss_reasons, page, limit, render)

    def _events(self, request: Request, query: _Query) -> Response:
        page, limit = _paging(query, MAX_EVENTS_PAGE_SIZE)
        types = query.take_list("filter[type]")
        entities = query.take_list("filter[entity]")
        matches = _record_filter(query, "filter[entity_id]", ("created_at",), id_field="entity_id")
        query.finish()
        events = [
            event
            for event in self._dataset.events
            if (types is None or event["type"] in types)
            and (entities is None or event["entity_type"] in entities)
            and matches(event)
        ]
        # Newest first, as the account's event feed lists them (unverified for the API).
        events.sort(key=lambda event: (event["created_at"], event["id"]), reverse=True)

        def render(event: Json) -> Json:
            entity_link = _self_link(request.base_url, f"leads/{event['entity_id']}")
            return {
                **event,
                "_links": _self_link(request.base_url, f"events/{event['id']}"),
                "_embedded": {"entity": {"id": event["entity_id"], "_links": entity_link}},
            }

        return _page(request, "events", events, page, limit, render)

    # Rendering -------------------------------------------------------------------------

    def _render_lead(
        self, base: str, lead: Json, with_: set[str], reasons: dict[int, Json]
    ) -> Json:
        stored = lead["_embedded"]
        embedded: Json = {"tags": stored["tags"], "companies": stored["companies"]}
        if "contacts" in with_:
            embedded["contacts"] = [
                {**ref, "_links": _self_link(base, f"contacts/{ref['id']}")}
                for ref in stored["contacts"]
            ]
        reason = reasons.get(lead["loss_reason_id"])
        if "loss_reason" in with_ and reason is not None:
            link = _self_link(base, f"leads/loss_reasons/{reason['id']}")
            embedded["loss_reason"] = [{**reason, "_links": link}]
        return {**lead, "_links": _self_link(base, f"leads/{lead['id']}"), "_embedded": embedded}

    def _validation_error(self, bad: _BadRequest) -> Response:
        body = {
            "validation-errors": [
                {
                    "errors": [
                        {"code": "InvalidParameter", "path": bad.parameter, "detail": bad.detail}
                    ]
                }
            ],
            **_problem(400, f"Request validation failed: {bad}"),
        }
        return json_response(400, body, PROBLEM_JSON)


def _problem(status: int, detail: str) -> Json:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return {
        "title": title,
        "type": f"https://httpstatus.es/{status}",
        "status": status,
        "detail": detail,
    }


def _self_link(base: str, resource: str) -> Json:
    return {"self": {"href": f"{base}{API_PREFIX}/{resource}"}}


def _paging(query: _Query, max_limit: int) -> tuple[int, int]:
    page = query.take_int("page")
    limit = query.take_int("limit")
    if page is not None and page < 1:
        raise _BadRequest("page", "must be 1 or more")
    if limit is not None and not 1 <= limit <= max_limit:
        raise _BadRequest("limit", f"must be between 1 and {max_limit}")
    return page or 1, limit or DEFAULT_PAGE_SIZE


def _record_filter(
    query: _Query, id_param: str, time_fields: tuple[str, ...], id_field: str = "id"
) -> Callable[[Json], bool]:
    """`filter[<field>][from]`/`[to]` (inclusive) or `filter[<field>]` (exact) on each time
    field, and a list of ids; the scalar time form is why the real API answers 204 to it."""
    raw_ids = query.take_list(id_param)
    try:
        ids = None if raw_ids is None else {int(value) for value in raw_ids}
    except ValueError:
        raise _BadRequest(id_param, "ids must be integers") from None
    bounds = {
        name: (
            query.take_int(f"filter[{name}]"),
            query.take_int(f"filter[{name}][from]"),
            query.take_int(f"filter[{name}][to]"),
        )
        for name in time_fields
    }

    def matches(record: Json) -> bool:
        if ids is not None and record[id_field] not in ids:
            return False
        for name, (exact, low, high) in bounds.items():
            value = record[name]
            if exact is not None and value != exact:
                return False
            if (low is not None and value < low) or (high is not None and value > high):
                return False
        return True

    return matches


def _sorted(records: list[Json], order: tuple[str, bool] | None) -> list[Json]:
    field, descending = order or ("id", False)
    return sorted(records, key=lambda record: (record[field], record["id"]), reverse=descending)


def _page(
    request: Request,
    key: str,
    records: list[Json],
    page: int,
    limit: int,
    render: Callable[[Json], Json],
) -> Response:
    start = (page - 1) * limit
    chunk = records[start : start + limit]
    if not chunk:
        return Response(204)
    links = {"self": {"href": _page_href(request, page, limit)}}
    if start + limit < len(records):
        links["next"] = {"href": _page_href(request, page + 1, limit)}
    body = {"_page": page, "_links": links, "_embedded": {key: [render(r) for r in chunk]}}
    return json_response(200, body, HAL_JSON)


def _page_href(request: Request, page: int, limit: int) -> str:
    pairs = [
        (name, value)
        for name, values in request.query.items()
        if name not in ("page", "limit")
        for value in values
    ]
    pairs += [("page", str(page)), ("limit", str(limit))]
    return f"{request.base_url}{request.path}?{urlencode(pairs, safe='[],')}"
