"""Meta Marketing API (Ads Insights) extractor: campaign x day statistics of one ad account.

Wire format: ../shared/API_NOTES.md and https://developers.facebook.com/docs/marketing-api
(insights, insights/best-practices, overview/rate-limiting) and
https://developers.facebook.com/docs/graph-api/guides/error-handling.

    GET /{v}/act_{id}?fields=account_id,currency,timezone_name          the account
    GET /{v}/act_{id}/insights?level=campaign&time_increment=1&fields=…  a range, paged
    POST /{v}/act_{id}/insights (same parameters) -> {"report_run_id"}   a long range:
    GET /{v}/{report_run_id} -> async_status, async_percent_completion   poll, then
    GET /{v}/{report_run_id}/insights                                    page the rows

Every insights query carries `filtering=[{"field":"ad.effective_status","operator":"IN",
"value":[every status]}]`: account-level insights leave out the stats of DELETED and
ARCHIVED objects unless a status filter asks for them ("Manage your ad object's status"
names `ad.effective_status` for this), and spend of a campaign deleted since must still
land on a first load, a backfill and the restatements of the lookback.

Ranges longer than `async_after_days` use an async report run. A run that ends in
`Job Failed` or `Job Skipped` fails the extraction with an error naming the account and
the run: Meta gives no reason, and the task's own retry submits the range again.

A direct listing that Meta refuses as too large ("Please reduce the amount of data you're
asking for": HTTP 500, code 1, subcode 99, the phrase in `error_user_msg`) is never
repeated unchanged: the range is read again through an async report run, which Meta's
insights best practices recommend for large queries. Its rows land with a later
`_extracted_at` than any batch the direct listing already wrote, so staging (newest
version per day and campaign) takes them. The same refusal while paging a report run
fails at once with `MetaTooMuchDataError`, which says to read shorter ranges.

Paging follows `paging.cursors.after` with our own parameters while `paging.next` is
present. `next` itself is never followed nor logged: Meta puts the access token in it. The
token travels in the `Authorization: Bearer` header (Graph accepts it there, as open-source
clients such as restfb use it; Meta's examples show the `access_token` parameter).

Throttling is not HTTP 429: Meta answers HTTP 400 (403 seen for code 4) with error codes
4, 17, 613 or 80000-80014 in the JSON body. The shared client retries 400/401/403 and 5xx
through `meta_retry_hint`, which reads the body: throttling and transient errors (codes
1 and 2, `is_transient`) are retried after the wait a usage header announces, else after
an exponential backoff; every other error (190 token, 100 parameter, 10/200 permission…)
raises `MetaApiError` at once, naming code, subcode, type and fbtrace_id.

`spend` lands in a decimal(18, 6) column: more places, or a magnitude of 10^12 or more,
quarantines the record (naming day, campaign and field) instead of failing its batch.

Proactive slowdown: after each successful answer the usage headers are read
(`X-Business-Use-Case-Usage`, `X-Ad-Account-Usage`, `X-App-Usage`,
`X-FB-Ads-Insights-Throttle`). At or above 75 % of any budget the extractor pauses before
going on, linearly from 0 s at 75 % to 60 s at 100 %; at 100 % it pauses for the announced
time to regain access when there is one (at most the retry policy's longest wait).

Verified against Meta's docs or real answers quoted in public issues: the paths and
parameters above, metrics as strings, the error body (message, type, code, error_subcode,
fbtrace_id, is_transient), HTTP 400 for codes 17, 80000 and 80004 (subcode 2446079), the
async status values, the BUC header's shape with `estimated_time_to_regain_access` in
minutes, and API version v27.0 as the newest (Marketing API v23.0 expired in June 2026).
The status filter: its field from Meta's status page, its values the Ad reference's
`effective_status` enum (facebook-python-business-sdk `Ad.EffectiveStatus`), sent in this
very form at `level=campaign` by Airbyte's connector (airbytehq/airbyte PR #42562 logs).
The too-much-data answer: code 1 subcode 99 with the phrase in `error_user_msg`, as
production logs quoted in public code show it; others report the phrase in `message` or
another code (Airbyte matches the phrase alone), so either identifies it.
Unverified: HTTP 403 for code 4, the `X-Ad-Account-Usage` fields (`acc_id_util_pct`,
`reset_time_duration` in seconds; Meta now documents it for old versions only), whether
`paging.next` carries the token when the token came in a header, and whether a metric
without a value is omitted (handled: it lands as null).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from extract.ad_account import AdAccount
from extract.connection import SourceConnection
from extract.http import (
    HttpClient,
    Pacer,
    RetryPolicy,
    SourceAuthError,
    SourceError,
    SourceHttpError,
    SourceResponseError,
    get_logger,
)
from extract.landing import Quarantine, RawLanding, RecordParseError, as_object, utc_now
from extract.progress import Progress
from extract.schemas import SCHEMAS

SOURCE = "meta_ads"
ENTITY = "campaign_stats"
API_VERSION = "v27.0"
INSIGHTS_FIELDS = ("campaign_id", "campaign_name", "spend", "clicks", "impressions")
ACCOUNT_FIELDS = ("account_id", "currency", "timezone_name")
PAGE_LIMIT = 500  # rows per insights page: Meta counts calls, not rows, against the budget
DEFAULT_ASYNC_AFTER_DAYS = 31
DEFAULT_BATCH_SIZE = 10_000
DEFAULT_MAX_WAIT_SECONDS = 1800.0  # for an async report run to complete
POLL_FIRST_SECONDS, POLL_MAX_SECONDS = 1.0, 30.0  # report run polls back off to every 30 s
REQUESTS_PER_SECOND = 5  # politeness only: Meta's budgets are hourly and the headers steer
_COST_COLUMN = SCHEMAS[(SOURCE, ENTITY)].field("cost").type  # decimal(18, 6)
COST_PLACES = _COST_COLUMN.scale
MAX_COST = Decimal(10) ** (_COST_COLUMN.precision - _COST_COLUMN.scale)  # exclusive bound

# Every `effective_status` of an ad (the Ad reference). Asking for all of them is what makes
# account insights include DELETED and ARCHIVED objects (module docstring).
AD_EFFECTIVE_STATUSES = (
    "ACTIVE", "ADSET_PAUSED", "ARCHIVED", "CAMPAIGN_PAUSED", "DELETED", "DISAPPROVED",
    "IN_PROCESS", "PAUSED", "PENDING_BILLING_INFO", "PENDING_REVIEW", "PREAPPROVED",
    "WITH_ISSUES",
)  # fmt: skip
EVERY_STATUS_FILTER = (
    {"field": "ad.effective_status", "operator": "IN", "value": list(AD_EFFECTIVE_STATUSES)},
)

# Error codes of throttling (Graph: 4 app, 17 user, 613 custom; 80000-80014 business use
# case limits) and of temporary trouble (1 unknown, 2 service) that Meta says to retry.
THROTTLE_CODES = frozenset({4, 17, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})
# Meta's refusal of a request that asks for too much data (module docstring).
TOO_MUCH_DATA_CODE, TOO_MUCH_DATA_SUBCODE = 1, 99
TOO_MUCH_DATA_PHRASE = "reduce the amount of data"
# 400/401/403 carry Meta's error codes (throttling among them): `meta_retry_hint` decides.
RETRY_POLICY = RetryPolicy(
    max_attempts=6,
    backoff_base_seconds=5.0,
    backoff_max_seconds=300.0,
    max_retry_after_seconds=900.0,  # a longer announced wait fails the task instead
    retry_statuses=frozenset({400, 401, 403, 429, 500, 502, 503, 504}),
)

HIGH_USAGE_PERCENT = 75.0
FULL_USAGE_PERCENT = 100.0
SLOWDOWN_MAX_SECONDS = 60.0
USAGE_HEADERS = (
    "X-Business-Use-Case-Usage",
    "X-Ad-Account-Usage",
    "X-App-Usage",
    "X-FB-Ads-Insights-Throttle",
)
_USAGE_PERCENT_KEYS = (
    "call_count",
    "total_cputime",
    "total_time",
    "acc_id_util_pct",
    "app_id_util_pct",
)

JOB_COMPLETED = "Job Completed"
JOB_ENDED_WITHOUT_DATA = frozenset({"Job Failed", "Job Skipped"})
JOB_PENDING = frozenset({"Job Not Started", "Job Started", "Job Running"})

_DIGITS = re.compile(r"\d+")
_DECIMAL = re.compile(r"-?\d+(\.\d+)?")

log = get_logger(__name__)

Row = dict[str, Any]


def make_client(
    conn: SourceConnection,
    *,
    pacer: Pacer | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> HttpClient:
    """A client for the Graph API with the bearer access token `conn.token`, Meta's error
    codes classified by `meta_retry_hint`. `pacer` and `sleep` replace real time."""
    if conn.token is None:
        raise ValueError(f"{SOURCE}: the connection has no access token")
    return HttpClient(
        SOURCE,
        base_url=conn.base_url,
        token=conn.token,
        pacer=pacer or Pacer(REQUESTS_PER_SECOND, 1.0),
        retry=RETRY_POLICY,
        retry_hint=meta_retry_hint,
        sleep=sleep,
    )


def account_number(account_id: str) -> str:
    """An ad account id without `act_`, as landed: "act_123" and "123" give "123"."""
    number = account_id.strip().removeprefix("act_")
    if not _DIGITS.fullmatch(number):
        raise ValueError(f"{SOURCE}: ad account id {account_id!r} is not act_<digits> or digits")
    return number


# --- errors and usage headers ------------------------------------------------------------


class MetaApiError(SourceHttpError):
    """The Graph API refused a request with an error Meta does not ask to retry."""

    hint: ClassVar[str] = ""  # what to do about it, when there is something to say

    def __init__(
        self,
        *,
        status: int,
        request: str,
        error: Mapping[str, Any],
        account: str | None = None,
    ) -> None:
        self.request = request
        self.error = dict(error)
        self.account = account
        self.code = error.get("code")
        self.subcode = error.get("error_subcode")
        self.fbtrace_id = error.get("fbtrace_id")
        whose = f"account {account}: " if account else ""
        said = (error.get("message"), error.get("error_user_msg"), self.hint)
        super().__init__(
            f"{SOURCE}: {whose}{request} failed with HTTP {status}: error code {self.code}, "
            f"subcode {self.subcode}, type {error.get('type')}, fbtrace_id {self.fbtrace_id}: "
            + " ".join(str(text) for text in said if text),
            status=status,
        )

    def for_account(self, account: str) -> MetaApiError:
        """The same error, its message naming the ad account it concerns."""
        return type(self)(
            status=self.status or 0, request=self.request, error=self.error, account=account
        )


class MetaTooMuchDataError(MetaApiError):
    """Meta refused a request as asking for too much data: repeated unchanged, it fails again."""

    hint = (
        "A direct listing falls back to an async report run on this answer; a report run "
        "that gets it too needs shorter ranges (a backfill in parts)."
    )


def asks_for_less_data(error: Mapping[str, Any]) -> bool:
    """Whether a Graph error is Meta's "reduce the amount of data" refusal: code 1 with
    subcode 99, or the phrase in its message, title or user message whatever the code."""
    if error.get("code") == TOO_MUCH_DATA_CODE and error.get("error_subcode") == (
        TOO_MUCH_DATA_SUBCODE
    ):
        return True
    texts = (error.get("message"), error.get("error_user_title"), error.get("error_user_msg"))
    return any(isinstance(text, str) and TOO_MUCH_DATA_PHRASE in text.lower() for text in texts)


@dataclass(frozen=True)
class Usage:
    """What the usage headers of one answer say: the fullest budget and, if announced,
    how long until access returns."""

    percent: float
    header: str  # the header that reported `percent`
    regain_seconds: float | None


def read_usage(headers: Mapping[str, str]) -> Usage | None:
    """The usage headers of an answer; None when it carries none that parse.

    The time to regain access is the business use case header's
    `estimated_time_to_regain_access` (minutes), else the ad account header's
    `reset_time_duration` (seconds); zero means none announced.
    """
    percent, fullest = -1.0, ""
    regain_minutes = reset_seconds = 0.0
    for name in USAGE_HEADERS:
        for entry in _usage_entries(headers.get(name)):
            for key in _USAGE_PERCENT_KEYS:
                value = _number(entry.get(key))
                if value is not None and value > percent:
                    percent, fullest = value, name
            regain = _number(entry.get("estimated_time_to_regain_access")) or 0.0
            reset = _number(entry.get("reset_time_duration")) or 0.0
            regain_minutes, reset_seconds = max(regain_minutes, regain), max(reset_seconds, reset)
    if not fullest and not regain_minutes and not reset_seconds:
        return None
    if regain_minutes:
        regain: float | None = regain_minutes * 60
    else:
        regain = reset_seconds or None
    return Usage(max(percent, 0.0), fullest, regain)


def _usage_entries(text: str | None) -> Iterator[Mapping[str, Any]]:
    """The objects of one usage header: the header itself, or (business use case) the
    entries listed under each business object id. A header that does not parse is skipped:
    it only steers pacing."""
    if text is None:
        return
    try:
        document = json.loads(text)
    except ValueError:
        log.debug("%s: ignoring a usage header that is not JSON", SOURCE)
        return
    if not isinstance(document, Mapping):
        return
    if not any(isinstance(value, list) for value in document.values()):
        yield document
        return
    for entries in document.values():
        if isinstance(entries, list):
            yield from (entry for entry in entries if isinstance(entry, Mapping))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def slowdown_seconds(usage: Usage | None) -> float:
    """How long to wait before the next request, given an answer's usage (module docstring)."""
    if usage is None or usage.percent < HIGH_USAGE_PERCENT:
        return 0.0
    if usage.percent >= FULL_USAGE_PERCENT:
        return usage.regain_seconds or SLOWDOWN_MAX_SECONDS
    share = (usage.percent - HIGH_USAGE_PERCENT) / (FULL_USAGE_PERCENT - HIGH_USAGE_PERCENT)
    return SLOWDOWN_MAX_SECONDS * share


def graph_error(response: requests.Response) -> Mapping[str, Any] | None:
    """The `error` object of a Graph API answer, if the body has one."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, Mapping) else None
    return error if isinstance(error, Mapping) else None


def meta_retry_hint(response: requests.Response) -> float | None:
    """For a failed answer: seconds to wait before retrying (None: back off), or raise.

    Meta's too-much-data refusal raises `MetaTooMuchDataError`, whatever its status: the
    same request would be refused again. Throttling and transient errors are retried, after
    the time the usage headers announce when they do; other 429 and 5xx answers always are.
    Any other Graph error raises `MetaApiError`, an error answer without a Graph error
    object `SourceHttpError`: both fail at once.
    """
    status = response.status_code
    error = graph_error(response)
    request = _request_shown(response)
    if error is not None and asks_for_less_data(error):
        raise MetaTooMuchDataError(status=status, request=request, error=error)
    if status == 429 or status >= 500:
        return _announced_wait(response)
    if error is None:
        error_class = SourceAuthError if status in (401, 403) else SourceHttpError
        raise error_class(
            f"{SOURCE}: {request} failed with HTTP {status} and no Graph error object: "
            f"{response.text[:300]!r}",
            status=status,
        )
    code = error.get("code")
    if code in THROTTLE_CODES or code in TRANSIENT_CODES or error.get("is_transient") is True:
        kind = "throttled" if code in THROTTLE_CODES else "temporary error"
        log.warning(
            "%s: %s on %s: error code %s, subcode %s, fbtrace_id %s: %s",
            SOURCE,
            kind,
            request,
            code,
            error.get("error_subcode"),
            error.get("fbtrace_id"),
            error.get("message"),
        )
        return _announced_wait(response)
    raise MetaApiError(status=status, request=request, error=error)


def _announced_wait(response: requests.Response) -> float | None:
    usage = read_usage(response.headers)
    return None if usage is None else usage.regain_seconds


def _request_shown(response: requests.Response) -> str:
    """Method and path of the request an answer belongs to (no query: nothing secret)."""
    request = response.request
    if request is None:
        return "a request"
    return f"{request.method} {urlsplit(request.url or '').path}"


# --- requests ---------------------------------------------------------------------------


def _call(
    client: HttpClient, method: str, path: str, params: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The JSON object of a successful answer; pauses afterwards when usage runs high."""
    response = client.request(method, path, params=params)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise SourceResponseError(
            f"{SOURCE}: {method} {path} answered HTTP {response.status_code} with a body that "
            f"is not a JSON object: {response.text[:200]!r}"
        )
    _pause_if_busy(client, response)
    return answer


def _pause_if_busy(client: HttpClient, response: requests.Response) -> None:
    usage = read_usage(response.headers)
    pause = min(slowdown_seconds(usage), client.retry.max_retry_after_seconds)
    if usage is not None and pause > 0:
        log.info(
            "%s: %s reports %.0f%% usage; pausing %.0f s before the next request",
            SOURCE,
            usage.header,
            usage.percent,
            pause,
        )
        client.sleep(pause)


def fetch_account(
    conn: SourceConnection, *, account_id: str, client: HttpClient | None = None
) -> AdAccount:
    """The ad account's currency and time zone, from the Graph API node `act_{id}`.

    `account_id` may carry `act_` or not; the returned `account_id` never does.
    """
    number = account_number(account_id)
    http = client or make_client(conn)
    try:
        node = _call(
            http, "GET", f"/{API_VERSION}/act_{number}", {"fields": ",".join(ACCOUNT_FIELDS)}
        )
    except MetaApiError as error:
        raise error.for_account(number) from None
    finally:
        if client is None:
            http.close()
    return parse_account(node, number)


def parse_account(node: Mapping[str, Any], number: str) -> AdAccount:
    """The `act_{number}` node as an `AdAccount`, checked field by field."""
    answered_id = node.get("account_id")
    if answered_id is not None and str(answered_id) != number:
        raise SourceResponseError(
            f"{SOURCE}: ad account act_{number}: the API answered for account_id {answered_id!r}"
        )
    try:
        return AdAccount(number, node.get("currency"), node.get("timezone_name"))
    except ValueError as exc:  # names the field: currency, or time_zone (timezone_name)
        raise SourceResponseError(f"{SOURCE}: the node act_{number}: {exc}") from None


def insights_params(date_from: date, date_to: date) -> dict[str, str]:
    """The insights query of a range (inclusive): campaign level, one row per day, objects
    of every status (deleted and archived ones included)."""
    if date_from > date_to:
        raise ValueError(f"{SOURCE}: date_from {date_from} is after date_to {date_to}")
    time_range = {"since": date_from.isoformat(), "until": date_to.isoformat()}
    return {
        "level": "campaign",
        "time_increment": "1",
        "fields": ",".join(INSIGHTS_FIELDS),
        "time_range": _compact_json(time_range),
        "filtering": _compact_json(EVERY_STATUS_FILTER),
    }


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def insights_pages(client: HttpClient, path: str, params: Mapping[str, str]) -> Iterator[list[Any]]:
    """The `data` lists of an insights listing, following `cursors.after` while the answer
    has a `paging.next` (which is never followed itself: it carries the access token)."""
    after: str | None = None
    while True:
        query = {**params, "limit": str(PAGE_LIMIT), **({"after": after} if after else {})}
        answer = _call(client, "GET", path, query)
        data = answer.get("data")
        if not isinstance(data, list):
            raise SourceResponseError(f"{SOURCE}: GET {path} answered without a data list")
        yield data
        next_after = _next_cursor(answer, path)
        if next_after is None:
            return
        if next_after == after:
            raise SourceResponseError(f"{SOURCE}: GET {path}: paging does not advance")
        after = next_after


def _next_cursor(answer: Mapping[str, Any], path: str) -> str | None:
    paging = answer.get("paging")
    if not isinstance(paging, Mapping) or paging.get("next") is None:
        return None  # the last page
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, Mapping) else None
    if not isinstance(after, str) or not after:
        raise SourceResponseError(f"{SOURCE}: GET {path}: paging.next without cursors.after")
    return after


def submit_report_run(client: HttpClient, account: str, params: Mapping[str, str]) -> str:
    """Start an async report run of the insights query; its `report_run_id`."""
    answer = _call(client, "POST", f"/{API_VERSION}/act_{account}/insights", params)
    run_id = answer.get("report_run_id")
    if isinstance(run_id, int) and not isinstance(run_id, bool):
        run_id = str(run_id)  # examples show it both as a number and as a string
    if not isinstance(run_id, str) or not _DIGITS.fullmatch(run_id):
        raise SourceResponseError(
            f"{SOURCE}: account {account}: async insights request answered without a "
            f"report_run_id: {json.dumps(answer)[:200]}"
        )
    return run_id


def wait_for_report_run(
    client: HttpClient, account: str, run_id: str, *, max_wait_seconds: float
) -> None:
    """Poll the run until `Job Completed`, backing off from 1 s to 30 s between polls, for
    at most `max_wait_seconds` of waiting; a failed or skipped run raises `SourceError`."""
    waited, delay = 0.0, POLL_FIRST_SECONDS
    while True:
        run = _call(client, "GET", f"/{API_VERSION}/{run_id}")
        status, percent = run.get("async_status"), run.get("async_percent_completion")
        if status == JOB_COMPLETED:
            log.info("%s: account %s report run %s completed", SOURCE, account, run_id)
            return
        if status in JOB_ENDED_WITHOUT_DATA:
            raise SourceError(
                f"{SOURCE}: account {account}: async report run {run_id} ended with "
                f"{status!r} at {percent}%; Meta gives no reason. Run the range again (the "
                f"task's retry does), in shorter ranges if it keeps failing"
            )
        if status not in JOB_PENDING:
            raise SourceResponseError(
                f"{SOURCE}: account {account}: report run {run_id} has unknown async_status "
                f"{status!r}"
            )
        if waited + delay > max_wait_seconds:
            raise SourceError(
                f"{SOURCE}: account {account}: report run {run_id} still {status!r} "
                f"({percent}%) after waiting {waited:.0f} s (limit {max_wait_seconds:.0f} s)"
            )
        log.info(
            "%s: account %s report run %s: %s, %s%% done; polling in %.0f s",
            SOURCE,
            account,
            run_id,
            status,
            percent,
            delay,
        )
        client.sleep(delay)
        waited += delay
        delay = min(delay * 2, POLL_MAX_SECONDS)


def report_run_pages(
    client: HttpClient, account: str, params: Mapping[str, str], *, max_wait_seconds: float
) -> Iterator[list[Any]]:
    """Submit an async report run of the insights query and wait for it to complete; the
    `data` lists of its rows, paged lazily."""
    run_id = submit_report_run(client, account, params)
    wait_for_report_run(client, account, run_id, max_wait_seconds=max_wait_seconds)
    return insights_pages(client, f"/{API_VERSION}/{run_id}/insights", {})


# --- parse ------------------------------------------------------------------------------


def _count(record: Mapping[str, Any], key: str) -> int | None:
    """A count metric: a string of digits on the wire; absent means no value."""
    value = record.get(key)
    if value is None:
        return None
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        raise RecordParseError(f"{key} is not a whole number: {value!r}")
    return int(text)


def _spend(record: Mapping[str, Any]) -> Decimal | None:
    """`spend`: a decimal string in the account currency ("5339.5"), kept exact; it must
    fit the landing column."""
    value = record.get("spend")
    if value is None:
        return None
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise RecordParseError(f"spend is not a decimal string: {value!r}")
    if len(value.partition(".")[2]) > COST_PLACES:
        raise RecordParseError(f"spend {value!r} has more than {COST_PLACES} decimal places")
    try:
        spend = Decimal(value)
    except InvalidOperation:
        raise RecordParseError(f"spend is not a decimal string: {value!r}") from None
    if abs(spend) >= MAX_COST:
        raise RecordParseError(f"spend {value!r} is not below {MAX_COST:,}: too large to land")
    return spend


def _day(record: Mapping[str, Any]) -> date:
    """The row's day: `time_increment=1` makes date_start and date_stop the same day."""
    start, stop = record.get("date_start"), record.get("date_stop")
    try:
        day = date.fromisoformat(start) if isinstance(start, str) else None
    except ValueError:
        day = None
    if day is None:
        raise RecordParseError(f"date_start {start!r} is not a YYYY-MM-DD date")
    if stop != start:
        raise RecordParseError(f"date_stop {stop!r} differs from date_start: not a daily row")
    return day


def parse_insight(record: Any, account: AdAccount) -> Row:
    """One insights record (a campaign's day) as a `campaign_stats` row."""
    record = as_object(record, "insights record")
    campaign_id = record.get("campaign_id")
    if not isinstance(campaign_id, str) or not campaign_id:
        raise RecordParseError(f"campaign_id is missing or not a string: {campaign_id!r}")
    name = record.get("campaign_name")
    if name is not None and not isinstance(name, str):
        raise RecordParseError(f"campaign_name is not a string: {name!r}")
    return {
        "account": account.account_id,
        "date": _day(record),
        "campaign_id": campaign_id,
        "campaign_name": name,
        "impressions": _count(record, "impressions"),
        "clicks": _count(record, "clicks"),
        "cost": _spend(record),
        "currency": account.currency,
        "time_zone": account.time_zone,
    }


def parse_page(records: list[Any], account: AdAccount, quarantine: Quarantine) -> Iterator[Row]:
    """Rows (with `_payload`, the record as JSON) of one page; a record that does not parse
    goes to `quarantine(record_id, reason, payload)`, named by its day and campaign."""
    for record in records:
        payload = json.dumps(record, ensure_ascii=False)
        try:
            yield {**parse_insight(record, account), "_payload": payload}
        except RecordParseError as exc:
            record_id = _record_id(record)
            quarantine(record_id, f"{SOURCE} {ENTITY} record {record_id}: {exc}", payload)


def _record_id(record: Any) -> str | None:
    if not isinstance(record, Mapping):
        return None
    return f"{record.get('date_start')}:{record.get('campaign_id')}"


# --- extract ----------------------------------------------------------------------------


def extract_meta_ads(
    conn: SourceConnection,
    landing: RawLanding,
    account: AdAccount,
    *,
    date_from: date,
    date_to: date,
    async_after_days: int = DEFAULT_ASYNC_AFTER_DAYS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    client: HttpClient | None = None,
) -> dict[str, int]:
    """Land the daily campaign statistics of [date_from, date_to] (inclusive, the account's
    days, as `fetch_account` described the account); return the rows the range's complete
    listing wrote, per entity.

    A range longer than `async_after_days` days goes through an async report run, waited
    for at most `max_wait_seconds`; so does a shorter one that Meta refuses to list
    directly as too much data. `client` replaces the one built from `conn`.
    """
    account = replace(account, account_id=account_number(account.account_id))
    params = insights_params(date_from, date_to)
    http = client or make_client(conn)
    days = (date_to - date_from).days + 1
    direct = days <= async_after_days
    log.info(
        "%s: account %s insights %s .. %s (%d days, %s)",
        SOURCE,
        account.account_id,
        date_from,
        date_to,
        days,
        "direct" if direct else "async report run",
    )
    listing = _RangeListing(http, landing, account, params, batch_size, max_wait_seconds)
    try:
        return {ENTITY: listing.direct_or_report_run() if direct else listing.report_run()}
    except MetaApiError as error:
        raise error.for_account(account.account_id) from None
    finally:
        landing.flush()
        if client is None:
            http.close()


@dataclass(frozen=True)
class _RangeListing:
    """The insights query of one account's range, landed from one listing or another."""

    http: HttpClient
    landing: RawLanding
    account: AdAccount
    params: Mapping[str, str]
    batch_size: int
    max_wait_seconds: float

    def direct_or_report_run(self) -> int:
        """Rows written by the direct listing; by a report run if Meta refuses the direct
        one as too much data (module docstring)."""
        path = f"/{API_VERSION}/act_{self.account.account_id}/insights"
        try:
            return self._land(insights_pages(self.http, path, self.params))
        except MetaTooMuchDataError as refused:
            log.warning(
                "%s: account %s: the direct listing was refused (%s); reading the range "
                "through an async report run instead",
                SOURCE,
                self.account.account_id,
                refused,
            )
        return self.report_run()

    def report_run(self) -> int:
        """Rows written by an async report run of the query."""
        pages = report_run_pages(
            self.http, self.account.account_id, self.params, max_wait_seconds=self.max_wait_seconds
        )
        return self._land(pages)

    def _land(self, pages: Iterator[list[Any]]) -> int:
        """Write the rows of every page, stamped with the moment the listing began."""
        received_at = utc_now()

        def quarantine(record_id: str | None, reason: str, payload: str) -> None:
            self.landing.quarantine(ENTITY, record_id, reason, payload, extracted_at=received_at)

        rows = _with_progress(pages, self.account, quarantine)
        return self.landing.write_rows(
            ENTITY, rows, batch_size=self.batch_size, extracted_at=received_at
        )


def _with_progress(
    pages: Iterator[list[Any]], account: AdAccount, quarantine: Quarantine
) -> Iterator[Row]:
    progress = Progress(SOURCE, ENTITY)
    for records in pages:
        yield from parse_page(records, account, quarantine)
        progress.page(len(records))
    progress.finish()
