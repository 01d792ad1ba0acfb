"""Meta Marketing API imitation: one ad account's campaign insights, direct and async.

Speaks the wire format of shared/API_NOTES.md:
- `GET /{v}/act_{id}` with `fields` of account_id, id, name, currency, timezone_name.
- `GET /{v}/act_{id}/insights?level=campaign&time_increment=1&fields=…&time_range=…`:
  one row per campaign and day, metrics as strings, `spend` a decimal string; pages of
  `limit` rows (at most `page_size`) with `paging.cursors` and, while more rows follow, a
  `paging.next` link that embeds the access token, as Meta's do.
- Campaign statuses (`campaign_statuses`: ACTIVE, PAUSED, ARCHIVED or DELETED; a campaign's
  ads inherit it, PAUSED as CAMPAIGN_PAUSED): as Meta's account insights do, a query
  without `filtering` leaves out the rows of ARCHIVED and DELETED campaigns. `filtering`
  is a JSON array of `{"field", "operator", "value"}` on `ad.effective_status` or
  `campaign.effective_status` with IN or NOT_IN and a list of that level's statuses;
  anything else, or a filtering that is not an array, is refused with code 100.
- `POST` of the same query starts an async report run (`{"report_run_id"}`);
  `GET /{v}/{run}` answers `async_status` and `async_percent_completion`: `Job Not
  Started`, then `Job Running` for `polls_before_ready` polls in all, then `Job Completed`
  (or `Job Failed` for the first `failing_report_runs` runs); `GET /{v}/{run}/insights`
  pages the rows as of the run's completion.
Every answer carries the usage headers `X-Business-Use-Case-Usage`, `X-Ad-Account-Usage`
and `X-App-Usage` at `usage_percent`. Parameters, fields and levels it does not implement
are refused with error code 100 rather than ignored; a missing token gets code 104, a
wrong one code 190, another ad account code 100 subcode 33. Errors are HTTP 400 with
Meta's body `{"error": {message, type, code, error_subcode, fbtrace_id}}`.

Faults (`RunningServer.inject`/`schedule`): an HTTP status answers Meta's error for it
(500 code 1, 503 code 2, both `is_transient`); one of Meta's throttling codes (4, 17, 613,
80000-80014: none is an HTTP status) answers that throttle as Meta does, with usage
headers at 100 % that announce access back in `THROTTLE_REGAIN_MINUTES`;
`TOO_MUCH_DATA` (99, not an HTTP status either) answers Meta's refusal of a request that
asks for too much data: HTTP 500, code 1, subcode 99, "Please reduce the amount of data
you're asking for" in `error_user_msg`, as production logs quoted in public code show it.
"""

import base64
import itertools
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from email.message import Message
from http import HTTPStatus
from urllib.parse import parse_qs, urlencode

from sandbox.generator import META_ADS_ACCOUNT, Dataset, Json
from sandbox.server import Request, Response, RunningServer, json_response

CONTENT_TYPE = "application/json; charset=UTF-8"
VERSION = re.compile(r"v\d+\.\d+")
ACCOUNT_NODE_FIELDS = frozenset({"account_id", "id", "name", "currency", "timezone_name"})
DEFAULT_ACCOUNT_FIELDS = ("account_id", "id")  # what the node answers without `fields`
INSIGHTS_FIELDS = frozenset(
    {"account_id", "campaign_id", "campaign_name", "spend", "clicks", "impressions"}
)
INSIGHTS_PARAMS = frozenset(
    {"level", "time_increment", "fields", "time_range", "filtering", "limit", "after"}
)
REPORT_RUN_FIELDS = frozenset(
    {"id", "account_id", "async_status", "async_percent_completion", "date_start", "date_stop"}
)
ACCESS_TIER = "standard_access"
THROTTLE_REGAIN_MINUTES = 2  # what a throttled answer's usage header announces
THROTTLE_RESET_SECONDS = 60  # X-Ad-Account-Usage reset_time_duration on a throttled answer
FIRST_REPORT_RUN_ID = 6_023_920_149_050
MICROS_PER_UNIT = Decimal(1_000_000)

# A campaign's effective status as the sandbox models it, and what its ads inherit.
AD_STATUS_OF_CAMPAIGN = {
    "ACTIVE": "ACTIVE",
    "PAUSED": "CAMPAIGN_PAUSED",
    "ARCHIVED": "ARCHIVED",
    "DELETED": "DELETED",
}
HIDDEN_WITHOUT_FILTER = frozenset({"ARCHIVED", "DELETED"})
# The statuses a filter may name, per field (the Campaign and Ad references' enums).
FILTER_STATUSES = {
    "campaign.effective_status": frozenset(
        {"ACTIVE", "PAUSED", "DELETED", "ARCHIVED", "IN_PROCESS", "WITH_ISSUES"}
    ),
    "ad.effective_status": frozenset(
        {
            "ACTIVE", "ADSET_PAUSED", "ARCHIVED", "CAMPAIGN_PAUSED", "DELETED", "DISAPPROVED",
            "IN_PROCESS", "PAUSED", "PENDING_BILLING_INFO", "PENDING_REVIEW", "PREAPPROVED",
            "WITH_ISSUES",
        }
    ),
}  # fmt: skip
FILTER_OPERATORS = frozenset({"IN", "NOT_IN"})

TOO_MUCH_DATA = 99  # the fault kind of Meta's too-much-data refusal (its error_subcode)
TOO_MUCH_DATA_USER_MESSAGE = (
    "Please reduce the amount of data you're asking for, then retry your request"
)

# Throttling codes with their HTTP status, subcode and message: 17, 80000 and 80004 as
# real answers quoted in public issues show them; 613 as the rate limiting page lists it;
# 403 for code 4 as one issue reports (unverified).
THROTTLES: dict[int, tuple[int, int | None, str]] = {
    4: (403, None, "(#4) Application request limit reached"),
    17: (400, 2446079, "(#17) User request limit reached"),
    613: (
        400,
        1487742,
        "(#613) There have been too many calls from this ad-account. Please wait a bit and "
        "try again.",
    ),
}
BUC_THROTTLE_MESSAGE = (
    "(#{code}) There have been too many calls {preposition} this ad-account. Wait a bit and "
    "try again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
)
BUC_THROTTLE_CODES = range(80000, 80015)
# Meta's error for an injected HTTP status: (code, type, message, transient).
RETRY_LATER = "An unexpected error has occurred. Please retry your request later."
STATUS_ERRORS: dict[int, tuple[int, str, str, bool]] = {
    400: (100, "OAuthException", "(#100) Invalid parameter", False),
    401: (190, "OAuthException", "Invalid OAuth access token - Cannot parse access token", False),
    403: (200, "OAuthException", "(#200) Permissions error", False),
    500: (1, "OAuthException", "An unknown error occurred", True),
    503: (2, "OAuthException", RETRY_LATER, True),
}


def start_meta_ads(
    dataset: Dataset,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = "sandbox-token",
    account_id: str = META_ADS_ACCOUNT.account_id,
    page_size: int = 25,
    polls_before_ready: int = 2,
    failing_report_runs: int = 0,
    usage_percent: int = 4,
    campaign_statuses: Mapping[int, str] | None = None,
) -> RunningServer:
    """Serve `dataset.meta_ads_stats` as ad account `act_{account_id}`; port 0 picks a
    free port. The first `failing_report_runs` async report runs end in `Job Failed`.
    `campaign_statuses` gives campaigns (by id) a status other than ACTIVE."""
    if page_size < 1 or polls_before_ready < 0:
        raise ValueError("page_size must be at least 1 and polls_before_ready at least 0")
    statuses = dict(campaign_statuses or {})
    if unknown := set(statuses.values()) - AD_STATUS_OF_CAMPAIGN.keys():
        raise ValueError(
            f"campaign statuses {sorted(unknown)} are not modelled; use "
            f"{', '.join(AD_STATUS_OF_CAMPAIGN)}"
        )
    api = MetaAdsApi(
        dataset,
        _Settings(token, account_id, page_size, polls_before_ready, usage_percent, statuses),
        failing_report_runs,
    )
    return RunningServer(api, host, port)


@dataclass(frozen=True)
class _Settings:
    token: str
    account_id: str
    page_size: int
    polls_before_ready: int
    usage_percent: int
    campaign_statuses: dict[int, str]  # campaigns not listed are ACTIVE


class _GraphError(Exception):
    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        transient: bool = False,
        user_title: str | None = None,
        user_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.subcode = subcode
        self.error_type = error_type
        self.transient = transient
        self.user_title = user_title
        self.user_message = user_message


def _bad_param(detail: str) -> _GraphError:
    return _GraphError(100, f"(#100) {detail}")


def _unsupported_get(object_id: str) -> _GraphError:
    return _GraphError(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        f"loaded due to missing permissions, or does not support this operation.",
        subcode=33,
        error_type="GraphMethodException",
    )


@dataclass(frozen=True)
class _StatusFilter:
    """One entry of `filtering`: rows whose status at `field_name`'s level is (IN) or is
    not (NOT_IN) one of `statuses`."""

    field_name: str
    operator: str
    statuses: frozenset[str]

    def admits(self, status_by_field: Mapping[str, str]) -> bool:
        return (status_by_field[self.field_name] in self.statuses) == (self.operator == "IN")


@dataclass(frozen=True)
class _Query:
    """An insights query as the sandbox implements it."""

    fields: tuple[str, ...]
    since: str  # ISO dates compare as text
    until: str
    filters: tuple[_StatusFilter, ...]
    limit: int
    after: int | None  # index of the last row already served


@dataclass
class _ReportRun:
    run_id: str
    query: _Query
    polls: int = 0
    rows: list[Json] | None = None  # as of completion
    failed: bool = False


class MetaAdsApi:
    def __init__(self, dataset: Dataset, settings: _Settings, failing_report_runs: int) -> None:
        self._dataset = dataset
        self._settings = settings
        self._failures_left = failing_report_runs
        self._runs: dict[str, _ReportRun] = {}
        self._run_ids = itertools.count(FIRST_REPORT_RUN_ID)
        self._trace_ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- routing ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        params = _params(request)
        try:
            self._authorize(request.headers, params)
            parts = self._route(request.path)
            answer = self._dispatch(request, parts, params)
        except _GraphError as error:
            return self._error_response(error)
        return json_response(200, answer, CONTENT_TYPE, self._usage_headers())

    def _route(self, path: str) -> list[str]:
        parts = path.strip("/").split("/")
        if not parts or not VERSION.fullmatch(parts[0]) or len(parts) not in (2, 3):
            raise _GraphError(2500, f"Unknown path components: {path}", error_type="OAuthException")
        return parts[1:]

    def _dispatch(self, request: Request, parts: list[str], params: dict[str, str]) -> Json:
        node, edge = parts[0], parts[1] if len(parts) == 2 else None
        account_node = f"act_{self._settings.account_id}"
        if node.startswith("act_"):
            if node != account_node:
                raise _unsupported_get(node)
            if edge is None and request.method == "GET":
                return self._account(params)
            if edge == "insights" and request.method in ("GET", "POST"):
                query = _read_query(params, self._settings.page_size)
                if request.method == "POST":
                    return self._submit(query)
                return self._page(request, self._rows(query), query.limit, query.after, node)
        elif request.method == "GET":
            run = self._run(node)
            if edge is None:
                return self._poll(run, params)
            if edge == "insights":
                return self._report_rows(request, run, params)
        raise _GraphError(
            100, f"(#100) {request.method} /{'/'.join(parts)} is not implemented by the sandbox"
        )

    def _authorize(self, headers: Message, params: dict[str, str]) -> None:
        """The token as Meta takes it: `Authorization: Bearer|OAuth`, or `access_token`."""
        given = params.pop("access_token", None)
        authorization = headers.get("Authorization")
        if authorization is not None:
            scheme, _, value = authorization.partition(" ")
            if scheme in ("Bearer", "OAuth"):
                given = value
        if given is None:
            raise _GraphError(104, "An access token is required to request this resource.")
        if given != self._settings.token:
            raise _GraphError(190, "Invalid OAuth access token - Cannot parse access token")

    # --- nodes ------------------------------------------------------------------------

    def _account(self, params: dict[str, str]) -> Json:
        fields = _read_fields(params, ACCOUNT_NODE_FIELDS, DEFAULT_ACCOUNT_FIELDS)
        if unknown := params.keys() - {"fields"}:
            raise _bad_param(f"Unsupported parameters: {', '.join(sorted(unknown))}")
        node = {
            "account_id": self._settings.account_id,
            "id": f"act_{self._settings.account_id}",
            "name": META_ADS_ACCOUNT.name,
            "currency": META_ADS_ACCOUNT.currency,
            "timezone_name": META_ADS_ACCOUNT.time_zone,
        }
        return {name: node[name] for name in (*fields, "id") if name in node}

    def _rows(self, query: _Query) -> list[Json]:
        """The daily campaign rows of the range that the query's status filters admit, in
        Meta's wire shape."""
        stats = (
            row
            for row in self._dataset.meta_ads_stats
            if query.since <= row["Date"] <= query.until
            and self._admitted(row["CampaignId"], query.filters)
        )
        ordered = sorted(stats, key=lambda row: (row["Date"], row["CampaignId"]))
        return [self._wire_row(row, query.fields) for row in ordered]

    def _admitted(self, campaign_id: int, filters: tuple[_StatusFilter, ...]) -> bool:
        """Without a filter, archived and deleted campaigns are left out, as Meta does."""
        status = self._settings.campaign_statuses.get(campaign_id, "ACTIVE")
        if not filters:
            return status not in HIDDEN_WITHOUT_FILTER
        status_by_field = {
            "campaign.effective_status": status,
            "ad.effective_status": AD_STATUS_OF_CAMPAIGN[status],
        }
        return all(status_filter.admits(status_by_field) for status_filter in filters)

    def _wire_row(self, row: Json, fields: tuple[str, ...]) -> Json:
        values = {
            "account_id": self._settings.account_id,
            "campaign_id": str(row["CampaignId"]),
            "campaign_name": row["CampaignName"],
            "spend": _decimal_text(Decimal(row["Cost"]) / MICROS_PER_UNIT),
            "clicks": str(row["Clicks"]),
            "impressions": str(row["Impressions"]),
        }
        wire = {name: values[name] for name in fields}
        return wire | {"date_start": row["Date"], "date_stop": row["Date"]}

    def _page(
        self, request: Request, rows: list[Json], limit: int, after: int | None, node_path: str
    ) -> Json:
        """The rows after cursor `after`, at most `limit`, with Meta's paging object."""
        start = 0 if after is None else after + 1
        page = rows[start : start + limit]
        answer: Json = {"data": page}
        if not page:
            return answer
        end = start + len(page) - 1
        answer["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
        if end + 1 < len(rows):
            answer["paging"]["next"] = self._next_link(request, node_path, _cursor(end))
        return answer

    def _next_link(self, request: Request, node_path: str, after: str) -> str:
        """Meta's next link: the same query with the access token and the next cursor."""
        version = request.path.strip("/").split("/")[0]
        query = {"access_token": self._settings.token, **_params(request), "after": after}
        return f"{request.base_url}/{version}/{node_path}/insights?{urlencode(query)}"

    # --- async report runs -----------------------------------------------------------

    def _submit(self, query: _Query) -> Json:
        with self._lock:
            run_id = str(next(self._run_ids))
            self._runs[run_id] = _ReportRun(run_id, query, failed=self._failures_left > 0)
            self._failures_left = max(0, self._failures_left - 1)
        return {"report_run_id": run_id}

    def _run(self, run_id: str) -> _ReportRun:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise _unsupported_get(run_id)
        return run

    def _poll(self, run: _ReportRun, params: dict[str, str]) -> Json:
        fields = _read_fields(params, REPORT_RUN_FIELDS, tuple(sorted(REPORT_RUN_FIELDS)))
        if unknown := params.keys() - {"fields"}:
            raise _bad_param(f"Unsupported parameters: {', '.join(sorted(unknown))}")
        with self._lock:
            run.polls += 1
            status, percent = self._progress(run)
            if status == "Job Completed" and run.rows is None:
                run.rows = self._rows(run.query)
        node = {
            "id": run.run_id,
            "account_id": self._settings.account_id,
            "async_status": status,
            "async_percent_completion": percent,
            "date_start": run.query.since,
            "date_stop": run.query.until,
        }
        return {name: node[name] for name in (*fields, "id")}

    def _progress(self, run: _ReportRun) -> tuple[str, int]:
        """Not started at the first poll, running until `polls_before_ready` polls have
        passed, then completed (or failed)."""
        if run.polls > self._settings.polls_before_ready:
            return ("Job Failed", 42) if run.failed else ("Job Completed", 100)
        if run.polls == 1:
            return "Job Not Started", 0
        return "Job Running", 100 * (run.polls - 1) // self._settings.polls_before_ready // 2

    def _report_rows(self, request: Request, run: _ReportRun, params: dict[str, str]) -> Json:
        if unknown := params.keys() - {"limit", "after"}:
            raise _bad_param(f"Unsupported parameters: {', '.join(sorted(unknown))}")
        if run.rows is None:
            raise _bad_param(f"Report run {run.run_id} is not complete")
        limit = _read_limit(params, self._settings.page_size)
        return self._page(request, run.rows, limit, _read_after(params), run.run_id)

    # --- answers ----------------------------------------------------------------------

    def error(self, status: int, detail: str) -> Response:
        """Meta's answer to an injected fault: a throttling code, the too-much-data refusal
        or an HTTP status."""
        if status in THROTTLES or status in BUC_THROTTLE_CODES:
            return self._error_response(_throttle(status), self._throttled_headers())
        if status == TOO_MUCH_DATA:
            return self._error_response(_too_much_data())
        code, error_type, message, transient = STATUS_ERRORS.get(
            status, (1, "OAuthException", _phrase(status), status >= 500)
        )
        error = _GraphError(
            code, message, status=status, error_type=error_type, transient=transient
        )
        return self._error_response(error)

    def _error_response(
        self, error: _GraphError, headers: dict[str, str] | None = None
    ) -> Response:
        body: Json = {"message": error.message, "type": error.error_type, "code": error.code}
        if error.transient:
            body["is_transient"] = True
        if error.subcode is not None:
            body["error_subcode"] = error.subcode
        if error.user_title is not None:
            body["error_user_title"] = error.user_title
        if error.user_message is not None:
            body["error_user_msg"] = error.user_message
        body["fbtrace_id"] = self._fbtrace_id()
        return json_response(
            error.status, {"error": body}, CONTENT_TYPE, headers or self._usage_headers()
        )

    def _fbtrace_id(self) -> str:
        number = next(self._trace_ids)
        return "A" + base64.b64encode(f"sandbox-trace-{number}".encode()).decode().rstrip("=")

    def _usage_headers(self) -> dict[str, str]:
        return _usage(self._settings.account_id, self._settings.usage_percent, 0, 0)

    def _throttled_headers(self) -> dict[str, str]:
        return _usage(
            self._settings.account_id, 100, THROTTLE_REGAIN_MINUTES, THROTTLE_RESET_SECONDS
        )


def _usage(
    account_id: str, percent: int, regain_minutes: int, reset_seconds: int
) -> dict[str, str]:
    business_use_case = {
        account_id: [
            {
                "type": "ads_insights",
                "call_count": percent,
                "total_cputime": max(0, percent - 3),
                "total_time": max(0, percent - 2),
                "estimated_time_to_regain_access": regain_minutes,
                "ads_api_access_tier": ACCESS_TIER,
            }
        ]
    }
    ad_account = {
        "acc_id_util_pct": percent,
        "reset_time_duration": reset_seconds,
        "ads_api_access_tier": ACCESS_TIER,
    }
    app = {"call_count": 1, "total_cputime": 1, "total_time": 1}
    return {
        "X-Business-Use-Case-Usage": json.dumps(business_use_case),
        "X-Ad-Account-Usage": json.dumps(ad_account),
        "X-App-Usage": json.dumps(app),
    }


def _throttle(code: int) -> _GraphError:
    if code in THROTTLES:
        status, subcode, message = THROTTLES[code]
    else:
        preposition = "from" if code == 80000 else "to"
        status, subcode = 400, 2446079
        message = BUC_THROTTLE_MESSAGE.format(code=code, preposition=preposition)
    return _GraphError(code, message, status=status, subcode=subcode, transient=True)


def _too_much_data() -> _GraphError:
    return _GraphError(
        1,
        "An unknown error occurred",
        status=500,
        subcode=TOO_MUCH_DATA,
        user_title="Please reduce the amount of data",
        user_message=TOO_MUCH_DATA_USER_MESSAGE,
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# Request parsing --------------------------------------------------------------------------


def _params(request: Request) -> dict[str, str]:
    """Query and form parameters (Graph takes either), the last value of each."""
    params = {name: values[-1] for name, values in request.query.items()}
    if request.body:
        form = parse_qs(request.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        params |= {name: values[-1] for name, values in form.items()}
    return params


def _read_query(params: dict[str, str], page_size: int) -> _Query:
    if unknown := params.keys() - INSIGHTS_PARAMS:
        raise _bad_param(
            f"Unsupported parameters: {', '.join(sorted(unknown))} (the sandbox implements "
            f"{', '.join(sorted(INSIGHTS_PARAMS))})"
        )
    if params.get("level") != "campaign":
        raise _bad_param(f"level {params.get('level')!r} is not implemented; use campaign")
    if params.get("time_increment") != "1":
        raise _bad_param(
            f"time_increment {params.get('time_increment')!r} is not implemented; use 1"
        )
    if "fields" not in params:
        raise _bad_param("fields is required by the sandbox")
    fields = _read_fields(params, INSIGHTS_FIELDS, ())
    since, until = _read_time_range(params.get("time_range"))
    filters = _read_filtering(params.get("filtering"))
    return _Query(
        fields, since, until, filters, _read_limit(params, page_size), _read_after(params)
    )


def _read_fields(
    params: dict[str, str], allowed: frozenset[str], default: tuple[str, ...]
) -> tuple[str, ...]:
    if "fields" not in params:
        return default
    fields = tuple(name.strip() for name in params["fields"].split(",") if name.strip())
    if unknown := [name for name in fields if name not in allowed]:
        raise _bad_param(f"Tried accessing nonexisting field ({unknown[0]})")
    return fields


def _read_time_range(value: str | None) -> tuple[str, str]:
    if value is None:
        raise _bad_param("time_range is required by the sandbox (date_preset is not implemented)")
    try:
        time_range = json.loads(value)
        since = date.fromisoformat(time_range["since"]).isoformat()
        until = date.fromisoformat(time_range["until"]).isoformat()
    except (ValueError, TypeError, KeyError):
        raise _bad_param(
            f'time_range must be {{"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}}, got {value!r}'
        ) from None
    if set(time_range) != {"since", "until"}:
        raise _bad_param("time_range takes since and until only")
    if since > until:
        raise _bad_param("time_range: since is after until")
    return since, until


def _read_filtering(value: str | None) -> tuple[_StatusFilter, ...]:
    if value is None:
        return ()
    try:
        entries = json.loads(value)
    except ValueError:
        entries = None
    if not isinstance(entries, list):
        raise _bad_param("param filtering must be an array.")  # Meta's wording
    return tuple(_read_status_filter(entry) for entry in entries)


def _read_status_filter(entry: object) -> _StatusFilter:
    if not isinstance(entry, dict) or entry.keys() != {"field", "operator", "value"}:
        raise _bad_param(f"filtering entry {entry!r} must have field, operator and value")
    name, operator, statuses = entry["field"], entry["operator"], entry["value"]
    if not isinstance(name, str) or name not in FILTER_STATUSES:
        raise _bad_param(
            f"Filtering field {name} is invalid (the sandbox implements "
            f"{', '.join(sorted(FILTER_STATUSES))})"
        )
    if not isinstance(operator, str) or operator not in FILTER_OPERATORS:
        raise _bad_param(f"filtering operator {operator!r} is not implemented; use IN or NOT_IN")
    if not isinstance(statuses, list) or not statuses:
        raise _bad_param(f"filtering on {name} needs a non-empty list of statuses")
    allowed = FILTER_STATUSES[name]
    if unknown := [
        status for status in statuses if not isinstance(status, str) or status not in allowed
    ]:
        raise _bad_param(f"{unknown[0]!r} is not a valid {name}")
    return _StatusFilter(name, operator, frozenset(statuses))


def _read_limit(params: dict[str, str], page_size: int) -> int:
    value = params.get("limit")
    if value is None:
        return page_size
    if not value.isdigit() or int(value) < 1:
        raise _bad_param(f"limit must be a positive integer, got {value!r}")
    return min(int(value), page_size)


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"row:{index}".encode()).decode()


def _read_after(params: dict[str, str]) -> int | None:
    value = params.get("after")
    if value is None:
        return None
    try:
        kind, _, index = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        kind, index = "", ""
    if kind != "row" or not index.isdigit():
        raise _bad_param(f"after {value!r} is not a cursor this server issued")
    return int(index)


def _decimal_text(amount: Decimal) -> str:
    """A decimal as Meta writes spend: no exponent, no trailing zeros ("5339.5", "12")."""
    return format(amount.normalize(), "f")
