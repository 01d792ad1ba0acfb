"""Yandex Direct Reports API v5 imitation: CAMPAIGN_PERFORMANCE_REPORT as TSV.

Speaks the wire format of shared/API_NOTES.md: offline reports answer 201 (queued), then
202 (building) to identical requests, then 200 with the report; `processingMode: online`
answers 200 at once. An offline report is built once: asked for again by its name, it is
served as built, even after the statistics were restated. Refuses report parameters it does
not implement with 400 rather than ignoring them. An injected 201 or 202
(`RunningServer.inject`/`schedule`) keeps a report unready for one more poll.
"""

import itertools
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from email.message import Message
from http import HTTPStatus
from typing import Any

from sandbox.generator import Dataset, Json
from sandbox.server import Request, Response, RunningServer, json_response

REPORTS_PATH = "/json/v5/reports"
ERROR_CONTENT_TYPE = "application/json; charset=utf-8"
TSV_CONTENT_TYPE = "text/tab-separated-values; charset=utf-8"
VAT_PERCENT = 22  # Russian VAT from 2026
DIMENSIONS = ("Date", "CampaignId", "CampaignName")
METRICS = ("Impressions", "Clicks", "Cost")
REQUIRED_PARAMS = frozenset(
    {
        "SelectionCriteria",
        "FieldNames",
        "ReportName",
        "ReportType",
        "DateRangeType",
        "Format",
        "IncludeVAT",
    }
)
OPTIONAL_PARAMS = frozenset({"IncludeDiscount"})
PROCESSING_MODES = frozenset({"auto", "online", "offline"})
RETRY_AFTER_SECONDS = 1

# Error codes of the Yandex Direct API (the exact code for each case is unverified).
INVALID_REQUEST = 8000
INVALID_PARAMETERS = 4000
AUTHORIZATION_ERROR = 53
CLIENT_NOT_FOUND = 8800
FAULT_CODES = {
    400: (INVALID_REQUEST, "Invalid request"),
    403: (AUTHORIZATION_ERROR, "Authorization error"),
    429: (56, "Request rate limit exceeded"),
    500: (1000, "Internal server error"),
    502: (1002, "Request processing timed out"),
    503: (1000, "Service temporarily unavailable"),
}


def start_yandex_direct(
    dataset: Dataset,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = "sandbox-token",
    client_login: str = "playground-ads",
    polls_before_ready: int = 2,
    retry_in_seconds: int = 1,
) -> RunningServer:
    """Serve `dataset.ad_stats` at `{url}/json/v5/reports`; port 0 picks a free port.

    An offline report answers 201 to its first request, 202 to the next
    `polls_before_ready` identical ones, then 200 with the TSV.
    """
    api = YandexDirectApi(dataset, token, client_login, polls_before_ready, retry_in_seconds)
    return RunningServer(api, host, port)


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, detail: str) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class _Report:
    name: str
    date_from: str  # ISO dates compare as text
    date_to: str
    fields: tuple[str, ...]
    include_vat: bool
    identity: str  # the canonical parameters: equal for requests of the same report


@dataclass
class _Queued:
    """An offline report: how often it was asked for, and its rows once built."""

    identity: str
    requests: int = 1
    rows: list[Json] | None = None


@dataclass(frozen=True)
class _Layout:
    """How the response presents the report, from the request's headers."""

    processing_mode: str
    money_in_micros: bool
    skip_report_header: bool
    skip_column_header: bool
    skip_report_summary: bool


class YandexDirectApi:
    def __init__(
        self,
        dataset: Dataset,
        token: str,
        client_login: str,
        polls_before_ready: int,
        retry_in_seconds: int,
    ) -> None:
        self._dataset = dataset
        self._authorization = f"Bearer {token}"
        self._client_login = client_login
        self._polls_before_ready = polls_before_ready
        self._retry_in = retry_in_seconds
        self._reports: dict[str, _Queued] = {}  # by ReportName
        self._lock = threading.Lock()
        self._request_ids = itertools.count(1)

    def handle(self, request: Request) -> Response:
        request_id = self._next_request_id()
        try:
            self._check_route(request)
            self._authorize(request.headers)
            layout = _read_layout(request.headers)
            report = _read_report(request.body)
            if layout.processing_mode == "online":
                status, rows = 200, _aggregate(self._dataset.ad_stats, report)
            else:
                status, rows = self._queue(report)
        except _ApiError as error:
            return _error_response(error, request_id)
        if rows is None:
            return Response(status, headers=self._not_ready_headers(request_id))
        tsv = _render_tsv(rows, report, layout)
        headers = {"Content-Type": TSV_CONTENT_TYPE, "RequestId": request_id}
        return Response(200, tsv.encode(), headers)

    def _not_ready_headers(self, request_id: str) -> dict[str, str]:
        return {"RequestId": request_id, "retryIn": str(self._retry_in), "reportsInQueue": "1"}

    def error(self, status: int, detail: str) -> Response:
        if status in (201, 202):  # an injected "still in the queue": the report stays unready
            return Response(status, headers=self._not_ready_headers(self._next_request_id()))
        code, message = FAULT_CODES.get(status, (1000, _phrase(status)))
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else {}
        error = _ApiError(status, code, message, detail)
        return _error_response(error, self._next_request_id(), headers)

    def _next_request_id(self) -> str:
        return str(next(self._request_ids))

    def _check_route(self, request: Request) -> None:
        if request.path.rstrip("/") != REPORTS_PATH:
            raise _ApiError(
                404, INVALID_REQUEST, "Invalid request", f"no service at {request.path}"
            )
        if request.method != "POST":
            raise _ApiError(
                405, INVALID_REQUEST, "Invalid request", "reports are requested by POST"
            )

    def _authorize(self, headers: Message) -> None:
        if headers.get("Authorization") != self._authorization:
            raise _ApiError(
                403, AUTHORIZATION_ERROR, "Authorization error", "OAuth token missing or invalid"
            )
        login = headers.get("Client-Login")
        if login is not None and login != self._client_login:
            raise _ApiError(
                400,
                CLIENT_NOT_FOUND,
                "Object not found",
                f"no client with login {login!r} is available to this token",
            )

    def _queue(self, report: _Report) -> tuple[int, list[Json] | None]:
        """201 for a new report, 202 while it builds, then 200 with its rows as built."""
        with self._lock:
            queued = self._reports.get(report.name)
            if queued is None:
                self._reports[report.name] = _Queued(report.identity)
                return 201, None
            if queued.identity != report.identity:
                raise _ApiError(
                    400,
                    INVALID_PARAMETERS,
                    "Invalid request parameters",
                    f"ReportName {report.name!r} belongs to a report with other parameters",
                )
            queued.requests += 1
            if queued.requests <= self._polls_before_ready + 1:
                return 202, None
            if queued.rows is None:
                queued.rows = _aggregate(self._dataset.ad_stats, report)
            return 200, queued.rows


def _error_response(
    error: _ApiError, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    body = {
        "error": {
            "request_id": request_id,
            "error_code": error.code,
            "error_string": error.message,
            "error_detail": error.detail,
        }
    }
    headers = {"RequestId": request_id, **(headers or {})}
    return json_response(error.status, body, ERROR_CONTENT_TYPE, headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# Request parsing --------------------------------------------------------------------------


def _read_layout(headers: Message) -> _Layout:
    mode = (headers.get("processingMode") or "auto").lower()
    if mode not in PROCESSING_MODES:
        raise _bad_header("processingMode", f"must be one of {', '.join(sorted(PROCESSING_MODES))}")
    return _Layout(
        processing_mode=mode,
        money_in_micros=_flag(headers, "returnMoneyInMicros", default=True),
        skip_report_header=_flag(headers, "skipReportHeader", default=False),
        skip_column_header=_flag(headers, "skipColumnHeader", default=False),
        skip_report_summary=_flag(headers, "skipReportSummary", default=False),
    )


def _flag(headers: Message, name: str, *, default: bool) -> bool:
    value = headers.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise _bad_header(name, "must be true or false")
    return value.lower() == "true"


def _bad_header(name: str, detail: str) -> _ApiError:
    return _ApiError(400, INVALID_REQUEST, "Invalid request", f"HTTP header {name}: {detail}")


def _bad_params(detail: str) -> _ApiError:
    return _ApiError(400, INVALID_PARAMETERS, "Invalid request parameters", detail)


def _read_report(body: bytes) -> _Report:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _ApiError(400, INVALID_REQUEST, "Invalid request", "body is not JSON") from None
    if not isinstance(document, dict) or set(document) != {"params"}:
        raise _ApiError(400, INVALID_REQUEST, "Invalid request", 'body must be {"params": {...}}')
    params = document["params"]
    if not isinstance(params, dict):
        raise _bad_params("params must be an object")
    if missing := REQUIRED_PARAMS - params.keys():
        raise _bad_params(f"missing required parameters: {', '.join(sorted(missing))}")
    if unknown := params.keys() - REQUIRED_PARAMS - OPTIONAL_PARAMS:
        raise _bad_params(f"unknown or unsupported parameters: {', '.join(sorted(unknown))}")
    _expect(params, "ReportType", ("CAMPAIGN_PERFORMANCE_REPORT",))
    _expect(params, "DateRangeType", ("CUSTOM_DATE",))
    _expect(params, "Format", ("TSV",))
    _expect(params, "IncludeVAT", ("YES", "NO"))
    if "IncludeDiscount" in params:
        _expect(params, "IncludeDiscount", ("YES", "NO"))
    name = params["ReportName"]
    if not isinstance(name, str) or not name.strip():
        raise _bad_params("ReportName must be a non-empty string")
    date_from, date_to = _read_dates(params["SelectionCriteria"])
    return _Report(
        name=name,
        date_from=date_from,
        date_to=date_to,
        fields=_read_fields(params["FieldNames"]),
        include_vat=params["IncludeVAT"] == "YES",
        identity=json.dumps(params, sort_keys=True, ensure_ascii=False),
    )


def _expect(params: dict[str, Any], name: str, allowed: Iterable[str]) -> None:
    if params[name] not in allowed:
        supported = ", ".join(allowed)
        raise _bad_params(f"{name} {params[name]!r} is not supported; use {supported}")


def _read_dates(criteria: Any) -> tuple[str, str]:
    if not isinstance(criteria, dict):
        raise _bad_params("SelectionCriteria must be an object")
    if unknown := criteria.keys() - {"DateFrom", "DateTo"}:
        raise _bad_params(f"SelectionCriteria: unsupported keys {', '.join(sorted(unknown))}")
    dates = []
    for key in ("DateFrom", "DateTo"):
        value = criteria.get(key)
        if value is None:
            raise _bad_params(f"SelectionCriteria.{key} is required with CUSTOM_DATE")
        try:
            dates.append(date.fromisoformat(value).isoformat())
        except (TypeError, ValueError):
            raise _bad_params(f"SelectionCriteria.{key} {value!r} is not YYYY-MM-DD") from None
    if dates[0] > dates[1]:
        raise _bad_params("SelectionCriteria.DateFrom is after DateTo")
    return dates[0], dates[1]


def _read_fields(field_names: Any) -> tuple[str, ...]:
    if not isinstance(field_names, list) or not field_names:
        raise _bad_params("FieldNames must be a non-empty list")
    if unknown := [name for name in field_names if name not in DIMENSIONS + METRICS]:
        raise _bad_params(f"FieldNames: unsupported fields {unknown}")
    if len(set(field_names)) != len(field_names):
        raise _bad_params("FieldNames: a field is listed twice")
    return tuple(field_names)


# Report rendering -------------------------------------------------------------------------


def _render_tsv(rows: list[Json], report: _Report, layout: _Layout) -> str:
    lines = []
    if not layout.skip_report_header:
        lines.append(f'"{report.name} ({report.date_from} - {report.date_to})"')
    if not layout.skip_column_header:
        lines.append("\t".join(report.fields))
    for row in rows:
        lines.append("\t".join(_cell(row, name, layout) for name in report.fields))
    if not layout.skip_report_summary:
        lines.append(f"Total rows: {len(rows)}")
    return "".join(f"{line}\n" for line in lines)


def _aggregate(ad_stats: list[Json], report: _Report) -> list[Json]:
    """Daily campaign rows in the date range, summed over the dimensions not asked for."""
    dimensions = [name for name in DIMENSIONS if name in report.fields]
    totals: dict[tuple[Any, ...], dict[str, int]] = {}
    for stat in ad_stats:
        if not report.date_from <= stat["Date"] <= report.date_to:
            continue
        metrics = totals.setdefault(
            tuple(stat[name] for name in dimensions), dict.fromkeys(METRICS, 0)
        )
        metrics["Impressions"] += stat["Impressions"]
        metrics["Clicks"] += stat["Clicks"]
        metrics["Cost"] += _with_vat(stat["Cost"]) if report.include_vat else stat["Cost"]
    return [
        dict(zip(dimensions, key, strict=True)) | metrics for key, metrics in sorted(totals.items())
    ]


def _with_vat(micros: int) -> int:
    return (micros * (100 + VAT_PERCENT) + 50) // 100


def _cell(row: Json, name: str, layout: _Layout) -> str:
    if name == "Cost" and not layout.money_in_micros:
        roubles = Decimal(row[name]) / 1_000_000
        return str(roubles.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return str(row[name])
