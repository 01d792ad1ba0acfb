"""Yandex Direct Reports API v5 extractor: request, poll, download, parse TSV, land.

Wire format: ../shared/API_NOTES.md and https://yandex.com/dev/direct/doc/en/reports
(spec, headers, report-format, mode). The report is requested with POST; 201/202 mean
queued/building and the identical request is resent after `retryIn` seconds; 200 carries
the TSV. The TSV is downloaded whole into a spooled temporary file first, so a body that
breaks off is fetched again before any row lands; it is then parsed line by line and
landed in batches, so memory stays bounded.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, BinaryIO

import requests

from extract.connection import SourceConnection
from extract.http import (
    DOWNLOAD_CHUNK_BYTES,
    HttpClient,
    Pacer,
    SourceError,
    SourceResponseError,
    get_logger,
    iter_lines,
    retry_after_seconds,
)
from extract.landing import Quarantine, RawLanding, RecordParseError, utc_now
from extract.progress import Progress

SOURCE = "yandex_direct"
ENTITY = "campaign_stats"
REPORTS_PATH = "/json/v5/reports"
REPORT_TYPE = "CAMPAIGN_PERFORMANCE_REPORT"
FIELD_NAMES = ("Date", "CampaignId", "CampaignName", "Impressions", "Clicks", "Cost")
COLUMN_HEADER = "\t".join(FIELD_NAMES)
REQUESTS_PER_WINDOW, WINDOW_SECONDS = 20, 10.0
DEFAULT_RETRY_IN_SECONDS = 10.0
DEFAULT_MAX_WAIT_SECONDS = 1800.0
DEFAULT_BATCH_SIZE = 10_000
SPOOL_MEMORY_BYTES = 16 * 1024 * 1024  # a larger report spills from memory to disk
MICROS_PER_UNIT = Decimal(1_000_000)
COST_PLACES = 6  # the landing column is decimal(18, 6)
NO_VALUE = "--"  # what a report prints for a metric without a value
SUMMARY_LINE = re.compile(r"Total rows: (\d+)")

log = get_logger(__name__)


def yandex_retry_hint(response: requests.Response) -> float | None:
    """Seconds to wait before resending: Yandex's `retryIn` header, else `Retry-After`."""
    retry_in = response.headers.get("retryIn")
    if retry_in is not None:
        try:
            return max(0.0, float(retry_in))
        except ValueError:
            pass
    return retry_after_seconds(response)


def make_client(conn: SourceConnection) -> HttpClient:
    """An HTTP client paced to the Reports limit of 20 requests per 10 seconds."""
    return HttpClient(
        SOURCE,
        base_url=conn.base_url,
        token=conn.token,
        pacer=Pacer(REQUESTS_PER_WINDOW, WINDOW_SECONDS),
        retry_hint=yandex_retry_hint,
    )


# --- request ----------------------------------------------------------------------------


def report_request(
    *,
    date_from: date,
    date_to: date,
    client_login: str,
    include_vat: bool,
    money_in_micros: bool,
    run_id: str,
) -> dict[str, Any]:
    """The report body. Its ReportName is a hash of everything that shapes the report and
    of the run, so a retry polls the same report, a different window or account gets its
    own, and another run of the same window (a rerun, a second backfill) gets a report
    built anew rather than the one stored from before costs were restated."""
    if date_from > date_to:
        raise ValueError(f"{SOURCE}: date_from {date_from} is after date_to {date_to}")
    params: dict[str, Any] = {
        "SelectionCriteria": {"DateFrom": date_from.isoformat(), "DateTo": date_to.isoformat()},
        "FieldNames": list(FIELD_NAMES),
        "ReportType": REPORT_TYPE,
        "DateRangeType": "CUSTOM_DATE",
        "Format": "TSV",
        "IncludeVAT": "YES" if include_vat else "NO",
    }
    identity = json.dumps(
        {
            "client_login": client_login,
            "money_in_micros": money_in_micros,
            "params": params,
            "run_id": run_id,
        },
        sort_keys=True,
    )
    params["ReportName"] = f"funnelhouse-{hashlib.sha256(identity.encode()).hexdigest()[:24]}"
    return {"params": params}


def report_headers(client_login: str, *, money_in_micros: bool) -> dict[str, str]:
    headers = {
        "Client-Login": client_login,
        "processingMode": "auto",
        "skipReportHeader": "true",
        "skipReportSummary": "true",
    }
    if not money_in_micros:
        headers["returnMoneyInMicros"] = "false"
    return headers


class YandexReportError(SourceError):
    """The Reports API refused the request; carries its documented error fields."""

    def __init__(
        self,
        status: int,
        *,
        error_code: Any,
        error_string: Any,
        error_detail: Any,
        request_id: Any,
    ) -> None:
        super().__init__(
            f"{SOURCE}: report request failed with HTTP {status}: error_code {error_code}, "
            f"{error_string}: {error_detail} (request_id {request_id})"
        )
        self.status = status
        self.error_code = error_code
        self.error_string = error_string
        self.error_detail = error_detail
        self.request_id = request_id


def _report_error(response: requests.Response) -> SourceError:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        return SourceResponseError(
            f"{SOURCE}: report request failed with HTTP {response.status_code} and a body "
            f"without an error object: {response.text[:300]!r}"
        )
    return YandexReportError(
        response.status_code,
        error_code=error.get("error_code"),
        error_string=error.get("error_string"),
        error_detail=error.get("error_detail"),
        request_id=error.get("request_id"),
    )


def fetch_report(
    client: HttpClient,
    body: dict[str, Any],
    headers: dict[str, str],
    *,
    into: BinaryIO,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
) -> None:
    """Send the report request until it is ready (200) and its whole TSV is in `into`.

    201 (queued) and 202 (building) resend the identical request after `retryIn`
    seconds, for at most `max_wait_seconds` in total; a 400 raises `YandexReportError`.
    """
    report_name = body["params"]["ReportName"]
    waited = 0.0
    while True:
        response = client.request(
            "POST", REPORTS_PATH, json=body, headers=headers, passthrough=(400,), into=into
        )
        status = response.status_code
        if status == 200:
            return
        if status == 400:
            error = _report_error(response)  # read the body before the stream is closed
            response.close()
            raise error
        response.close()
        if status not in (201, 202):
            raise SourceResponseError(
                f"{SOURCE}: report {report_name} answered HTTP {status}, expected 200/201/202"
            )
        delay = yandex_retry_hint(response)
        delay = DEFAULT_RETRY_IN_SECONDS if delay is None else delay
        if waited + delay > max_wait_seconds:
            raise SourceError(
                f"{SOURCE}: report {report_name} still not ready after waiting {waited:.0f} s "
                f"(last HTTP {status}; limit {max_wait_seconds:.0f} s); run again later"
            )
        state = "queued" if status == 201 else "being built"
        log.info("%s: report %s is %s; polling in %.0f s", SOURCE, report_name, state, delay)
        client.sleep(delay)
        waited += delay


# --- parse ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportContext:
    """What every row of one report shares: whose account it is and in what units."""

    account: str
    currency: str
    time_zone: str
    includes_vat: bool
    money_in_micros: bool = True


def _int_cell(text: str, name: str) -> int | None:
    if text == NO_VALUE:
        return None
    if not re.fullmatch(r"-?\d+", text):
        raise RecordParseError(f"{name} {text!r} is not an integer")
    return int(text)


def _date_cell(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RecordParseError(f"Date {text!r} is not a YYYY-MM-DD date") from None


def parse_cost(text: str, *, money_in_micros: bool) -> Decimal | None:
    """Cost in currency units, exact: micros are divided by 1,000,000 as Decimal."""
    if text == NO_VALUE:
        return None
    if money_in_micros:
        if not re.fullmatch(r"-?\d+", text):
            raise RecordParseError(f"Cost {text!r} is not an integer number of micros")
        return Decimal(text) / MICROS_PER_UNIT
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise RecordParseError(f"Cost {text!r} is not a decimal number")
    if len(text.partition(".")[2]) > COST_PLACES:
        raise RecordParseError(f"Cost {text!r} has more than {COST_PLACES} decimal places")
    return Decimal(text)


def parse_stats_line(cells: dict[str, str], context: ReportContext) -> dict[str, Any]:
    """One data line of the report (cells by column name) as a `campaign_stats` row."""
    campaign_id = _int_cell(cells["CampaignId"], "CampaignId")
    if campaign_id is None:
        raise RecordParseError("CampaignId is missing")
    return {
        "account": context.account,
        "date": _date_cell(cells["Date"]),
        "campaign_id": campaign_id,
        "campaign_name": cells["CampaignName"],
        "impressions": _int_cell(cells["Impressions"], "Impressions"),
        "clicks": _int_cell(cells["Clicks"], "Clicks"),
        "cost": parse_cost(cells["Cost"], money_in_micros=context.money_in_micros),
        "currency": context.currency,
        "time_zone": context.time_zone,
        "includes_vat": context.includes_vat,
    }


def parse_report(
    lines: Iterable[bytes], context: ReportContext, quarantine: Quarantine
) -> Iterator[dict[str, Any]]:
    """Rows (with `_payload`, the TSV line) of a report body, lazily, one line at a time.

    Understands the full layout — an optional title line, the column header (required:
    it maps cells to fields), data lines, an optional `Total rows: N` summary, which is
    checked against the data lines seen. A data line that does not parse goes to
    `quarantine(record_id, reason, payload)`.
    """
    columns: dict[str, int] | None = None
    title_seen = False
    data_lines = 0
    summary: int | None = None
    for number, raw in enumerate(lines, start=1):
        text = _decode_line(raw, number, quarantine)
        if text is None:
            data_lines += 1
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            continue
        if summary is not None:
            raise SourceResponseError(f"{SOURCE}: report line {number} follows the summary line")
        if columns is None:
            cells = text.split("\t")
            if sorted(cells) == sorted(FIELD_NAMES):
                columns = {name: index for index, name in enumerate(cells)}
            elif not title_seen:
                title_seen = True  # the report name and period, present unless skipped
            else:
                raise SourceResponseError(
                    f"{SOURCE}: report has no column header {COLUMN_HEADER!r} "
                    f"(line {number}: {text[:200]!r})"
                )
            continue
        if match := SUMMARY_LINE.fullmatch(text):
            summary = int(match.group(1))
            continue
        data_lines += 1
        row = _parse_data_line(text, number, columns, context, quarantine)
        if row is not None:
            yield row
    if columns is None and data_lines == 0 and not title_seen:
        return  # an empty body: no statistics for the period
    if columns is None:
        raise SourceResponseError(f"{SOURCE}: report has no column header {COLUMN_HEADER!r}")
    if summary is not None and summary != data_lines:
        raise SourceResponseError(
            f"{SOURCE}: report summary says {summary} rows but {data_lines} data lines arrived"
        )


def _decode_line(raw: bytes, number: int, quarantine: Quarantine) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        quarantine(
            None,
            f"{SOURCE} {ENTITY} line {number}: not UTF-8 ({exc.reason})",
            raw.decode("utf-8", errors="backslashreplace"),
        )
        return None


def _parse_data_line(
    text: str,
    number: int,
    columns: dict[str, int],
    context: ReportContext,
    quarantine: Quarantine,
) -> dict[str, Any] | None:
    values = text.split("\t")
    record_id = None
    try:
        if len(values) != len(columns):
            raise RecordParseError(
                f"expected {len(columns)} tab-separated cells, got {len(values)}"
            )
        cells = {name: values[index] for name, index in columns.items()}
        record_id = f"{cells['Date']}:{cells['CampaignId']}"
        return {**parse_stats_line(cells, context), "_payload": text}
    except RecordParseError as exc:
        quarantine(record_id, f"{SOURCE} {ENTITY} line {number}: {exc}", text)
        return None


# --- extract ----------------------------------------------------------------------------


def extract_yandex_direct(
    conn: SourceConnection,
    landing: RawLanding,
    *,
    date_from: date,
    date_to: date,
    client_login: str,
    currency: str,
    time_zone: str,
    include_vat: bool,
    money_in_micros: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    client: HttpClient | None = None,
) -> dict[str, int]:
    """Land the daily campaign statistics of [date_from, date_to] (inclusive, in the
    account's time zone); return rows written per entity (`campaign_stats`).

    Costs land in currency units, net of VAT unless `include_vat`. `money_in_micros=False`
    asks the API for units instead of micros. `client` replaces the one built from `conn`.
    """
    body = report_request(
        date_from=date_from,
        date_to=date_to,
        client_login=client_login,
        include_vat=include_vat,
        money_in_micros=money_in_micros,
        run_id=landing.run_id,
    )
    headers = report_headers(client_login, money_in_micros=money_in_micros)
    context = ReportContext(client_login, currency, time_zone, include_vat, money_in_micros)
    http = client or make_client(conn)
    log.info("%s: report %s .. %s for %s", SOURCE, date_from, date_to, client_login)
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as report:
            fetch_report(http, body, headers, into=report, max_wait_seconds=max_wait_seconds)
            received_at = utc_now()

            def quarantine(record_id: str | None, reason: str, payload: str) -> None:
                landing.quarantine(ENTITY, record_id, reason, payload, extracted_at=received_at)

            lines = iter_lines(iter(partial(report.read, DOWNLOAD_CHUNK_BYTES), b""))
            rows = _with_progress(parse_report(lines, context, quarantine))
            written = landing.write_rows(
                ENTITY, rows, batch_size=batch_size, extracted_at=received_at
            )
    finally:
        landing.flush()
        if client is None:
            http.close()
    return {ENTITY: written}


def _with_progress(rows: Iterator[dict[str, Any]], every: int = 10_000) -> Iterator[dict[str, Any]]:
    progress = Progress(SOURCE, ENTITY)
    count = 0
    for row in rows:
        yield row
        count += 1
        if count % every == 0:
            progress.page(every)
    if count % every:
        progress.page(count % every)
    progress.finish()
