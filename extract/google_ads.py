"""Google Ads API extractor: daily campaign statistics through `googleAds:searchStream` (REST).

Wire format (checked against Google's public documentation and public reports of live
answers in November 2026; see also ../shared/API_NOTES.md):

- `POST {base}/{API_VERSION}/customers/{customer_id}/googleAds:searchStream` with the body
  `{"query": GAQL}` and `Authorization: Bearer <OAuth access token>`. `login-customer-id`
  (digits only) names the manager account when the customer is reached through one.
- The access token lasts an hour, so a deployment keeps the OAuth client's `refresh_token`,
  `client_id` and `client_secret` in the connection's extra and each run exchanges them
  (Google's "Using OAuth 2.0 for Web Server Applications", refreshing an access token):
  `POST https://oauth2.googleapis.com/token` form-encoded `grant_type=refresh_token&
  client_id&client_secret&refresh_token` answers `{"access_token", "expires_in", "scope",
  "token_type": "Bearer"}`; a refusal answers `{"error", "error_description"}`, e.g. 400
  `invalid_grant` "Token has been expired or revoked." or 401 `invalid_client`.
- `developer-token`: Google sunset developer tokens on 2026-09-09; the header is now optional
  and ignored, and a later major version is announced to reject it. It is sent only when the
  connection still configures one (`extra["developer_token"]`), and kept out of every message.
- The answer is one JSON array of batches `{"results": [GoogleAdsRow], "fieldMask",
  "requestId"}` with lowerCamelCase keys; int64 values are JSON strings
  (`"costMicros": "2500000"`). Metrics are proto3 `optional` fields (field presence), so a
  zero travels as `"0"`: an absent metric means "not reported" and lands as NULL, not 0.
- Errors: `{"error": {"code", "message", "status", "details": [{"@type":
  "type.googleapis.com/google.ads.googleads.vNN.errors.GoogleAdsFailure", "errors":
  [{"errorCode": {"quotaError": "RESOURCE_EXHAUSTED"}, "message", "details":
  {"quotaErrorDetails": {"rateScope", "rateName", "retryDelay": "30s"}}}], "requestId"}]}}`;
  searchStream wraps it in an array, and an error after the stream began arrives as the
  array's last element after HTTP 200 (Google's HTTP streaming convention).

Unverified: whether a query without rows answers `[]` or one batch without `results` (both
are accepted); the HTTP status of every error code (only the gRPC-to-HTTP mapping is
documented); the request rate Google tolerates (pacing is a guess well below any quota);
the token endpoint's status for OAuth errors other than invalid_grant and invalid_client.

The body is downloaded whole into a spooled temporary file, so a body that breaks off is
fetched again before anything lands. It is then read twice, element by element, never whole:
once to check that the array is complete and carries no error, then to land rows in batches.
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests

from extract.ad_account import AdAccount
from extract.connection import SourceConnection
from extract.http import (
    DOWNLOAD_CHUNK_BYTES,
    HttpClient,
    Pacer,
    SourceAuthError,
    SourceHttpError,
    SourceResponseError,
    get_logger,
    redact,
    register_secret,
    retry_after_seconds,
)
from extract.landing import Quarantine, RawLanding, RecordParseError, as_object, utc_now
from extract.progress import Progress

SOURCE = "google_ads"
ENTITY = "campaign_stats"
API_VERSION = "v26"  # released 2026-10-14; v21 and v22 were sunset in 2026
REQUESTS_PER_SECOND = 10
DEFAULT_BATCH_SIZE = 10_000
SPOOL_MEMORY_BYTES = 16 * 1024 * 1024  # a larger answer spills from memory to disk
# One stream batch holds at most 10,000 rows (a few MB); more without a complete JSON value
# means a malformed body, which must not be read into memory to the end.
MAX_ELEMENT_CHARS = 256 * 1024 * 1024
MICROS_PER_UNIT = Decimal(1_000_000)
MAX_COST = Decimal(10) ** 12  # the landing column is decimal(18, 6)
INT64 = range(-(2**63), 2**63)
# Statuses whose body says why the request was refused: answered with the API's own error.
REFUSALS = (400, 401, 403, 404)
CUSTOMER_QUERY = "SELECT customer.id, customer.currency_code, customer.time_zone FROM customer"
# Hints for the refusals a misconfigured connection meets first.
ERROR_HINTS = {
    "USER_PERMISSION_DENIED": "if the account is reached through a manager account, set "
    "login_customer_id to the manager's id",
    "OAUTH_TOKEN_EXPIRED": "access tokens expire after an hour: configure refresh_token, "
    "client_id and client_secret in the connection's extra so that each run obtains a fresh one",
    "CLOUD_PROJECT_NOT_APPROVED_FOR_PRODUCTION": "the Cloud project behind the client id "
    "has Test access only: apply for Explorer access on its Google Ads API Overview page",
    "DEVELOPER_TOKEN_NOT_APPROVED": "the access level allows test accounts only",
}
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
OAUTH_EXTRA_KEYS = ("refresh_token", "client_id", "client_secret")
# Statuses the token endpoint answers an OAuth error body with (RFC 6749 section 5.2).
TOKEN_REFUSALS = (400, 401, 403)
# Messages never put a word after "OAuth": redaction masks it as a Yandex-style credential.
OAUTH_HINTS = {
    "invalid_grant": "the refresh token has expired or was revoked (a consent screen in Testing "
    "publishing status issues refresh tokens that expire after 7 days): authorize again and "
    "put the new refresh token into the connection's extra",
    "invalid_client": "check client_id and client_secret in the connection's extra: they must "
    "be those of the client the refresh token was issued to",
}
_CUSTOMER_ID = re.compile(r"\d{3}-?\d{3}-?\d{4}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)s")
_INTEGER = re.compile(r"-?\d+")
_WHITESPACE = re.compile(r"[ \t\n\r]*")

log = get_logger(__name__)


def normalize_customer_id(value: str, label: str = "customer id") -> str:
    """A Google Ads customer id as the API takes it: ten digits, dashes ("123-456-7890") removed."""
    if not isinstance(value, str) or not _CUSTOMER_ID.fullmatch(value.strip()):
        raise ValueError(f"{SOURCE}: {label} {value!r} is not ten digits (dashes allowed)")
    return value.strip().replace("-", "")


def make_client(
    conn: SourceConnection,
    *,
    login_customer_id: str | None,
    sleep: Callable[[float], None] = time.sleep,
) -> HttpClient:
    """A client with the OAuth bearer, `login-customer-id` when given, and `developer-token`
    when the connection still configures one (optional since the 2026-09-09 sunset).

    With a refresh token in the connection's extra the bearer is obtained for it here, once;
    otherwise the bearer is the connection's token (password) as is. One access token serves
    the client's whole life, which is one run of two searchStream requests: seconds as a
    rule, and only a run retrying both requests to the policy's limits (5 attempts, waits of
    up to 300 s, timeouts) nears the token's hour. So a 401 is not met by refreshing: it
    fails the run, and the task's retry starts with a fresh token. `sleep` is how the token
    request and the API client wait between retries.
    """
    headers = _api_headers(conn, login_customer_id)
    grant = refresh_grant(conn)
    if grant is not None:
        access_token = fetch_access_token(grant, sleep=sleep)
    elif conn.token is not None:
        access_token = conn.token
    else:
        raise ValueError(
            f"{SOURCE}: the connection needs refresh_token, client_id and client_secret in its "
            "extra, or an access token as its password"
        )
    return HttpClient(
        SOURCE,
        base_url=conn.base_url,
        token=access_token,
        pacer=Pacer(REQUESTS_PER_SECOND, 1.0),
        retry_hint=google_ads_retry_hint,
        headers=headers,
        sleep=sleep,
    )


def _api_headers(conn: SourceConnection, login_customer_id: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    developer_token = conn.extra.get("developer_token")
    if developer_token is not None:
        if not isinstance(developer_token, str) or not developer_token:
            raise ValueError(f"{SOURCE}: extra developer_token must be a non-empty string")
        register_secret(developer_token)
        headers["developer-token"] = developer_token
    if login_customer_id is not None:
        manager_id = normalize_customer_id(login_customer_id, "login customer id")
        headers["login-customer-id"] = manager_id
    return headers


# --- OAuth ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshGrant:
    """The OAuth refresh-token grant (RFC 6749 section 6) a connection's extra configures."""

    token_uri: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)

    def form(self) -> dict[str, str]:
        """The token request's form fields."""
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }


def refresh_grant(conn: SourceConnection) -> RefreshGrant | None:
    """The grant of extra `refresh_token`, `client_id`, `client_secret` and `token_uri`
    (default Google's), its secrets registered for redaction; None without `refresh_token`."""
    if "refresh_token" not in conn.extra:
        return None
    values = {key: _oauth_extra(conn, key) for key in OAUTH_EXTRA_KEYS}
    register_secret(values["refresh_token"])
    register_secret(values["client_secret"])
    token_uri = conn.extra.get("token_uri", DEFAULT_TOKEN_URI)
    parts = urlsplit(token_uri) if isinstance(token_uri, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        shown = redact(str(token_uri))
        raise ValueError(f"{SOURCE}: extra token_uri {shown!r} is not an http(s) URL")
    return RefreshGrant(token_uri=token_uri, **values)


def _oauth_extra(conn: SourceConnection, key: str) -> str:
    """A non-empty text value of extra (never shown: two of the three are secrets)."""
    value = conn.extra.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"{SOURCE}: extra {key} must be a non-empty string: the refresh-token flow needs "
            f"{', '.join(OAUTH_EXTRA_KEYS)}"
        )
    return value.strip()


def fetch_access_token(grant: RefreshGrant, *, sleep: Callable[[float], None] = time.sleep) -> str:
    """An access token from the grant's token endpoint, registered for redaction.

    The request goes through the shared client (retries on 429, 5xx and broken connections)
    without an Authorization header; an OAuth error raises `SourceAuthError` naming it.
    """
    parts = urlsplit(grant.token_uri)
    label = f"{SOURCE}: the token endpoint {redact(grant.token_uri)}"
    with HttpClient(
        SOURCE,
        base_url=f"{parts.scheme}://{parts.netloc}",
        token=None,
        pacer=Pacer(1, 1.0),
        sleep=sleep,
    ) as client:
        response = client.request(
            "POST", grant.token_uri, data=grant.form(), passthrough=TOKEN_REFUSALS
        )
    if response.status_code in TOKEN_REFUSALS:
        raise _token_refusal(response, label)
    return _issued_access_token(_json_body(response), label)


def _token_refusal(response: requests.Response, label: str) -> SourceAuthError:
    """The token endpoint's OAuth error (`{"error", "error_description"}`) with a hint."""
    status = response.status_code
    document = _object(_json_body(response))
    error = document.get("error")
    if isinstance(error, str):
        description = document.get("error_description")
        what = error + (f" ({description})" if description else "")
        what += f"; hint: {OAUTH_HINTS[error]}" if error in OAUTH_HINTS else ""
    else:
        what = f"a body without an error code: {response.text[:300]!r}"
    return SourceAuthError(
        f"{label} refused the refresh token with HTTP {status}: {what}", status=status
    )


def _issued_access_token(document: Any, label: str) -> str:
    """The access token of a token answer; the answer itself is never shown: it is a secret."""
    token = _object(document).get("access_token")
    if not isinstance(token, str) or not token:
        raise SourceResponseError(f"{label} answered without an access_token")
    register_secret(token)
    token_type = _object(document).get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise SourceResponseError(f"{label} issued a token of type {token_type!r}, not Bearer")
    expires_in = _object(document).get("expires_in")
    log.info("%s: obtained an access token valid for %s s", SOURCE, expires_in)
    return token


# --- errors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GoogleAdsFailure:
    """What an error body says: the Google API status and the GoogleAdsFailure inside."""

    code: Any  # the HTTP status the body names
    status: Any  # the canonical status name, e.g. RESOURCE_EXHAUSTED
    message: Any
    errors: tuple[str, ...]  # "quotaError.RESOURCE_EXHAUSTED: Too many requests. ..."
    request_id: str | None
    retry_delay: float | None  # the longest quotaErrorDetails.retryDelay, in seconds

    def describe(self) -> str:
        detail = "; ".join(self.errors) or str(self.message)
        hints = [hint for code, hint in ERROR_HINTS.items() if any(code in e for e in self.errors)]
        return (
            f"{self.status} ({self.code}): {detail}"
            + (f" (requestId {self.request_id})" if self.request_id else "")
            + "".join(f"; hint: {hint}" for hint in hints)
        )


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def parse_failure(document: Any) -> GoogleAdsFailure | None:
    """The failure in an error body (`{"error": …}`, or searchStream's `[{"error": …}]`);
    None when the document carries no error object."""
    if isinstance(document, list):
        document = next((item for item in document if "error" in _object(item)), None)
    error = _object(_object(document).get("error"))
    if not error:
        return None
    errors: list[str] = []
    request_id: str | None = None
    delays: list[float] = []
    for detail in map(_object, _array(error.get("details"))):
        if not str(detail.get("@type", "")).endswith(".errors.GoogleAdsFailure"):
            continue
        request_id = request_id or detail.get("requestId")
        for item in map(_object, _array(detail.get("errors"))):
            codes = [f"{kind}.{name}" for kind, name in _object(item.get("errorCode")).items()]
            errors.append(f"{', '.join(codes) or 'error'}: {item.get('message')}")
            quota = _object(_object(item.get("details")).get("quotaErrorDetails"))
            if match := _DURATION.fullmatch(str(quota.get("retryDelay", ""))):
                delays.append(float(match.group(1)))
    return GoogleAdsFailure(
        code=error.get("code"),
        status=error.get("status"),
        message=error.get("message"),
        errors=tuple(errors),
        request_id=request_id,
        retry_delay=max(delays, default=None),
    )


def _json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def google_ads_retry_hint(response: requests.Response) -> float | None:
    """Seconds to wait before retrying: the quota error's `retryDelay`, else `Retry-After`."""
    failure = parse_failure(_json_body(response))
    if failure is not None and failure.retry_delay is not None:
        return failure.retry_delay
    return retry_after_seconds(response)


def _refusal(response: requests.Response, customer_id: str) -> SourceHttpError:
    """The API's refusal as an error naming the customer, the error codes and the requestId:
    `SourceAuthError` for 401/403, which no retry can fix."""
    status = response.status_code
    failure = parse_failure(_json_body(response))
    what = (
        failure.describe()
        if failure
        else f"a body without an error object: {response.text[:300]!r}"
    )
    message = f"{SOURCE}: customer {customer_id}: searchStream refused with HTTP {status}: {what}"
    if status in (401, 403):
        return SourceAuthError(message, status=status)
    return SourceHttpError(message, status=status)


# --- request ----------------------------------------------------------------------------


def campaign_stats_query(date_from: date, date_to: date) -> str:
    """GAQL for campaign x day statistics of [date_from, date_to], in the account's days."""
    if date_from > date_to:
        raise ValueError(f"{SOURCE}: date_from {date_from} is after date_to {date_to}")
    return (
        "SELECT segments.date, campaign.id, campaign.name, metrics.cost_micros, "
        "metrics.clicks, metrics.impressions FROM campaign "
        f"WHERE segments.date BETWEEN '{date_from.isoformat()}' AND '{date_to.isoformat()}'"
    )


def stream_path(customer_id: str) -> str:
    return f"/{API_VERSION}/customers/{customer_id}/googleAds:searchStream"


def search_stream(client: HttpClient, customer_id: str, query: str, *, into: BinaryIO) -> None:
    """Run `query` for the customer and put the whole answer into `into`.

    Quota errors wait their `retryDelay`, 5xx and bodies that break off are retried by the
    client; a refusal (bad query, credentials, permissions) raises at once.
    """
    response = client.request(
        "POST", stream_path(customer_id), json={"query": query}, passthrough=REFUSALS, into=into
    )
    if response.status_code == 200:
        return
    error = _refusal(response, customer_id)  # read the body before the stream is closed
    response.close()
    raise error


# --- the stream -------------------------------------------------------------------------


class _TextFeed:
    """UTF-8 text of a file, read on demand into a buffer that only grows while one JSON
    value is incomplete (doubling, so re-decoding a long value stays linear)."""

    def __init__(self, read: Callable[[int], bytes], chunk_bytes: int, label: str) -> None:
        self._read = read
        self._chunk_bytes = chunk_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.label = label
        self.text = ""
        self.pos = 0
        self.ended = False

    def fill(self) -> bool:
        """Append at least as much text again as is pending; False at the end of the file."""
        if self.ended:
            return False
        self.text = self.text[self.pos :]
        self.pos = 0
        if len(self.text) > MAX_ELEMENT_CHARS:
            raise SourceResponseError(
                f"{self.label}: a stream element runs past {MAX_ELEMENT_CHARS} characters "
                "without ending: the body is not the documented JSON array"
            )
        data = self._read(max(self._chunk_bytes, len(self.text)))
        self.ended = not data
        try:
            self.text += self._decoder.decode(data, final=self.ended)
        except UnicodeDecodeError as exc:
            raise SourceResponseError(
                f"{self.label}: the body is not UTF-8 ({exc.reason})"
            ) from None
        return not self.ended

    def next_char(self) -> str | None:
        """The next character that is not whitespace (not consumed); None at the end."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return None

    def value(self, decoder: json.JSONDecoder) -> Any:
        """The JSON value starting at the next character, consumed."""
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.fill():
                    continue
                raise SourceResponseError(
                    f"{self.label}: the body breaks off or is malformed inside an element "
                    f"({exc.msg})"
                ) from None
            if end == len(self.text) and self.fill():
                continue  # a bare number may go on in the next chunk
            self.pos = end
            return value


def iter_json_array(
    read: Callable[[int], bytes], label: str, *, chunk_bytes: int = DOWNLOAD_CHUNK_BYTES
) -> Iterator[Any]:
    """The elements of the JSON array `read` returns, one at a time; a body that is not one
    complete array (cut off, trailing data) raises `SourceResponseError` where it goes wrong."""
    feed = _TextFeed(read, chunk_bytes, label)
    decoder = json.JSONDecoder()
    if feed.next_char() != "[":
        raise SourceResponseError(f"{label}: the body is not a JSON array")
    feed.pos += 1
    if feed.next_char() == "]":
        feed.pos += 1
    else:
        while True:
            if feed.next_char() is None:
                raise SourceResponseError(f"{label}: the body ends before its array closes")
            yield feed.value(decoder)
            char = feed.next_char()
            if char == "]":
                feed.pos += 1
                break
            if char != ",":
                found = "the end of the body" if char is None else repr(char)
                raise SourceResponseError(
                    f"{label}: expected ',' or ']' after an element, got {found}"
                )
            feed.pos += 1
    if feed.next_char() is not None:
        raise SourceResponseError(f"{label}: data follows the end of the array")


def read_stream(
    body: BinaryIO, customer_id: str, *, chunk_bytes: int = DOWNLOAD_CHUNK_BYTES
) -> Iterator[list[Any]]:
    """The `results` of each batch of a searchStream answer, read from the start of `body`.

    A batch without `results` has none; an error element (the stream failed after it began)
    raises `SourceHttpError` with the API's codes and requestId.
    """
    body.seek(0)
    label = f"{SOURCE}: customer {customer_id}: searchStream answer"
    for index, batch in enumerate(iter_json_array(body.read, label, chunk_bytes=chunk_bytes)):
        if not isinstance(batch, dict):
            raise SourceResponseError(f"{label}: element {index} is not an object")
        if "error" in batch:
            failure = parse_failure(batch)
            raise SourceHttpError(
                f"{label}: the stream failed after it began, at element {index}: "
                f"{failure.describe() if failure else batch['error']!r}",
                status=failure.code if failure and isinstance(failure.code, int) else None,
            )
        results = batch.get("results", [])
        if not isinstance(results, list):
            raise SourceResponseError(f"{label}: element {index} has results that are not a list")
        yield results


# --- parse ------------------------------------------------------------------------------


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise RecordParseError(f"segments.date {value!r} is not a YYYY-MM-DD date") from None


def _int64(value: Any, field: str) -> int | None:
    """An int64 as proto3 JSON writes it (a string of digits; a number is accepted too)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    else:
        raise RecordParseError(f"{field} {value!r} is not an int64")
    if number not in INT64:
        raise RecordParseError(f"{field} {value!r} is outside the int64 range")
    return number


def _cost(value: Any) -> Decimal | None:
    """costMicros in currency units, exact: Decimal micros divided by 1,000,000."""
    micros = _int64(value, "metrics.costMicros")
    if micros is None:
        return None
    cost = Decimal(micros) / MICROS_PER_UNIT
    if abs(cost) >= MAX_COST:
        raise RecordParseError(f"metrics.costMicros {value!r} exceeds the landing column")
    return cost


def _text(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RecordParseError(f"{field} {value!r} is not a string")
    return value


def parse_campaign_stats(result: Any, account: AdAccount) -> dict[str, Any]:
    """One GoogleAdsRow of the campaign query as a `campaign_stats` row (without `_payload`).

    An absent metric lands as NULL: the API sends zeros explicitly (field presence)."""
    row = as_object(result, "result")
    segments = as_object(row.get("segments"), "segments")
    campaign = as_object(row.get("campaign"), "campaign")
    metrics = as_object(row.get("metrics", {}), "metrics")
    campaign_id = _int64(campaign.get("id"), "campaign.id")
    if campaign_id is None:
        raise RecordParseError("campaign.id is missing")
    return {
        "account": account.account_id,
        "date": _date(segments.get("date")),
        "campaign_id": campaign_id,
        "campaign_name": _text(campaign.get("name"), "campaign.name"),
        "impressions": _int64(metrics.get("impressions"), "metrics.impressions"),
        "clicks": _int64(metrics.get("clicks"), "metrics.clicks"),
        "cost": _cost(metrics.get("costMicros")),
        "currency": account.currency,
        "time_zone": account.time_zone,
    }


def _record_id(result: Any) -> str:
    """`date:campaign id` of a result as far as it has them, for quarantine."""
    row = _object(result)
    day = _object(row.get("segments")).get("date")
    campaign_id = _object(row.get("campaign")).get("id")
    return f"{day}:{campaign_id}"


def stats_rows(
    batches: Iterable[list[Any]],
    account: AdAccount,
    quarantine: Quarantine,
    *,
    total_rows: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows (with `_payload`, the result as JSON) of the batches' results, lazily; a result
    that does not parse goes to `quarantine(record_id, reason, payload)`. A progress line is
    logged per batch, with the share done when `total_rows` is known."""
    progress = Progress(SOURCE, ENTITY)
    for results in batches:
        for result in results:
            payload = json.dumps(result, ensure_ascii=False)
            try:
                row = parse_campaign_stats(result, account)
            except RecordParseError as exc:
                record_id = _record_id(result)
                day, _, campaign_id = record_id.partition(":")
                reason = (
                    f"{SOURCE} {ENTITY} customer {account.account_id} date {day} "
                    f"campaign {campaign_id}: {exc}"
                )
                quarantine(record_id, reason, payload)
                continue
            yield {**row, "_payload": payload}
        done = (progress.records + len(results)) / total_rows if total_rows else None
        progress.page(len(results), done=done)
    progress.finish()


# --- account and extract ----------------------------------------------------------------


def _account_of(results: list[Any], customer_id: str) -> AdAccount:
    label = f"{SOURCE}: customer {customer_id}: the customer query"
    if len(results) != 1:
        raise SourceResponseError(f"{label} returned {len(results)} rows, expected 1")
    customer = _object(_object(results[0]).get("customer"))
    if str(customer.get("id")) != customer_id:
        raise SourceResponseError(f"{label} returned customer.id {customer.get('id')!r}")
    try:
        return AdAccount(customer_id, customer.get("currencyCode"), customer.get("timeZone"))
    except ValueError as exc:  # names the field: currency (currencyCode) or time_zone
        raise SourceResponseError(f"{label}: {exc}") from None


def fetch_account(
    conn: SourceConnection,
    *,
    customer_id: str,
    login_customer_id: str | None = None,
    client: HttpClient | None = None,
) -> AdAccount:
    """The customer's id (digits), currency and time zone, as the API reports them."""
    customer_id = normalize_customer_id(customer_id)
    http = client or make_client(conn, login_customer_id=login_customer_id)
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as body:
            search_stream(http, customer_id, CUSTOMER_QUERY, into=body)
            results = [result for batch in read_stream(body, customer_id) for result in batch]
    finally:
        if client is None:
            http.close()
    return _account_of(results, customer_id)


def extract_google_ads(
    conn: SourceConnection,
    landing: RawLanding,
    account: AdAccount,
    *,
    date_from: date,
    date_to: date,
    login_customer_id: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    client: HttpClient | None = None,
) -> dict[str, int]:
    """Land the daily campaign statistics of [date_from, date_to] (inclusive, in the
    account's time zone) with the account's currency and time zone on every row; return rows
    written per entity (`campaign_stats`).

    Nothing lands unless the whole answer arrived as one complete array without an error
    element. `client` replaces the one built from `conn` and `login_customer_id`.
    """
    query = campaign_stats_query(date_from, date_to)
    account = replace(account, account_id=normalize_customer_id(account.account_id))
    customer_id = account.account_id
    http = client or make_client(conn, login_customer_id=login_customer_id)
    log.info("%s: campaign stats %s .. %s for customer %s", SOURCE, date_from, date_to, customer_id)
    try:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as body:
            search_stream(http, customer_id, query, into=body)
            received_at = utc_now()
            total = sum(len(results) for results in read_stream(body, customer_id))

            def quarantine(record_id: str | None, reason: str, payload: str) -> None:
                landing.quarantine(ENTITY, record_id, reason, payload, extracted_at=received_at)

            rows = stats_rows(read_stream(body, customer_id), account, quarantine, total_rows=total)
            written = landing.write_rows(
                ENTITY, rows, batch_size=batch_size, extracted_at=received_at
            )
    finally:
        landing.flush()
        if client is None:
            http.close()
    return {ENTITY: written}
