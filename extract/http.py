"""The one HTTP layer every extractor uses.

A `HttpClient` wraps a `requests.Session` for one source with connect/read timeouts,
client-side pacing (so a source's rate limit is never hit in the first place), and
retries with exponential backoff and jitter on 429, 5xx, connection errors, timeouts and
bodies that break off, honouring `Retry-After` or a delay the source supplies itself.

Redaction lives here and only here: every message this package raises or logs passes
through `redact`, which masks bearer tokens, token-like query parameters, Bitrix24
webhook codes in paths and every secret registered with `register_secret`.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import quote, urlsplit

import requests

MASK = "***"
# Shorter strings would mask ordinary words in messages; no real token is this short.
MIN_SECRET_LENGTH = 6

_TOKEN_PARAMS = r"access_token|refresh_token|token|api_key|apikey|key|client_secret|password|auth"
_REDACTION_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(Bearer|OAuth)(\s+)[^\s,;\"']+"), rf"\1\2{MASK}"),
    (re.compile(rf"(?i)([?&;](?:{_TOKEN_PARAMS})=)[^&#\s\"']*"), rf"\1{MASK}"),
    (re.compile(rf"(?i)(\"(?:{_TOKEN_PARAMS})\"\s*:\s*\")[^\"]*"), rf"\1{MASK}"),
    # Bitrix24 incoming webhooks: https://portal/rest/<user_id>/<webhook code>/method
    (re.compile(r"(/rest/\d+/)[^/\s?#\"']+"), rf"\1{MASK}"),
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Mask `secret` (and its URL-encoded form) in everything `redact` sees from now on."""
    if len(secret) < MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        _secrets.update({secret, quote(secret, safe="")})


def redact(text: str) -> str:
    """`text` with registered secrets and token-shaped substrings replaced by `***`."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    for pattern, replacement in _REDACTION_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts a record's final message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def get_logger(name: str) -> logging.Logger:
    """The module logger of an extractor, with secrets redacted from every record."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger


log = get_logger(__name__)
# urllib3 logs each request line, query string included, at DEBUG.
get_logger("urllib3.connectionpool")


class SourceError(Exception):
    """An extractor could not get usable data from a source. The message is redacted."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class SourceHttpError(SourceError):
    """The source answered with an HTTP error (or never answered) for a request."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SourceAuthError(SourceHttpError):
    """The source rejected the connection's credentials (HTTP 401/403)."""


class RetriesExhaustedError(SourceHttpError):
    """A retryable failure persisted through every allowed attempt."""


class SourceResponseError(SourceError):
    """The source answered successfully but the body is not what its API documents."""


# Requests leave slightly further apart than the limit allows: network jitter can bunch
# their arrival, and a source that counts a sliding window would then answer 429.
PACING_HEADROOM = 1.1


class Pacer:
    """Spaces requests evenly so a source sees at most `max_requests` per `per_seconds`.

    Pacing (rather than a bucket that allows a burst) keeps a long extraction from ever
    tripping the source's own limiter, whose window alignment we do not know.
    """

    def __init__(
        self,
        max_requests: int,
        per_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or per_seconds <= 0:
            raise ValueError("a pacer needs max_requests >= 1 and per_seconds > 0")
        self.min_interval = per_seconds / max_requests * PACING_HEADROOM
        self._clock = clock
        self._sleep = sleep
        self._next_start: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next request may start; return how long it waited."""
        with self._lock:
            now = self._clock()
            start = now if self._next_start is None else max(now, self._next_start)
            delay = start - now
            if delay > 0:
                self._sleep(delay)
            self._next_start = start + self.min_interval
            return delay


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before repeating a failed request."""

    max_attempts: int = 5
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    # A server asking for a longer pause than this fails the run instead of stalling it.
    max_retry_after_seconds: float = 300.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("a retry policy needs max_attempts >= 1")

    def backoff(self, attempt: int, jitter: float) -> float:
        """Delay after failed attempt number `attempt` (1-based); `jitter` is in [0, 1)."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling * (0.5 + jitter / 2)


def retry_after_seconds(response: requests.Response) -> float | None:
    """The standard `Retry-After` header (seconds or an HTTP date) as seconds, if present."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


DEFAULT_TIMEOUT = (10.0, 120.0)  # (connect, read) seconds
DOWNLOAD_CHUNK_BYTES = 64 * 1024
# A request that failed in transit: no answer, no answer in time, or a body that broke off.
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class _Call:
    """One logical request, repeated as is by every retry."""

    method: str
    url: str
    shown: str  # the full URL, redacted, for messages
    options: dict[str, Any]
    passthrough: frozenset[int]


@dataclass(frozen=True)
class _Failure:
    """A retryable failed attempt and how long to wait before the next."""

    description: str
    status: int | None
    delay: float


class HttpClient:
    """A session for one source: base URL, bearer token, pacing, retries, redaction."""

    def __init__(
        self,
        source: str,
        *,
        base_url: str,
        token: str | None,
        pacer: Pacer,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry_hint: Callable[[requests.Response], float | None] = retry_after_seconds,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        bearer: bool = True,
    ) -> None:
        """`bearer=False` sends no Authorization header: for a source whose secret travels
        in `base_url` itself (Bitrix24 webhooks), which still registers it for redaction.
        A public feed (the CBR's rates) has no token at all: `token=None`."""
        if token is not None:
            register_secret(token)
        self.source = source
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._pacer = pacer
        self._timeout = timeout
        self._retry_hint = retry_hint
        self._jitter = jitter
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "funnelhouse-extract/0.1"
        if bearer and token is not None:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._session.headers.update(headers or {})

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def url_for(self, path_or_url: str) -> str:
        """An absolute URL on this source's base URL.

        Links a source hands back (amoCRM `_links.next.href`) keep only their path and
        query, so the bearer token is never sent to a host other than the configured one.
        """
        parts = urlsplit(path_or_url)
        path = parts.path if parts.path.startswith("/") else f"/{parts.path}"
        return f"{self.base_url}{path}" + (f"?{parts.query}" if parts.query else "")

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        passthrough: Collection[int] = (),
        into: BinaryIO | None = None,
    ) -> requests.Response:
        """Send a request, retrying transient failures; return the final response.

        Success (< 400) and statuses in `passthrough` are returned to the caller;
        401/403 raise `SourceAuthError`, other errors `SourceHttpError`, and a retryable
        failure that outlasts the policy raises `RetriesExhaustedError`. With `into`, a
        2xx body is streamed into that file (rewound, ready to read) before the response
        is returned, so a body that breaks off midway is retried like any other failure.
        `data` is sent form-encoded (an OAuth token request), `json` as JSON.
        """
        url = self.url_for(path_or_url)
        call = _Call(
            method,
            url,
            redact(requests.Request(method, url, params=params).prepare().url or url),
            {
                "params": params,
                "json": json,
                "data": data,
                "headers": headers,
                "stream": into is not None,
            },
            frozenset(passthrough),
        )
        for attempt in range(1, self.retry.max_attempts + 1):
            self._pacer.wait()
            log.debug("%s: %s %s (attempt %d)", self.source, method, call.shown, attempt)
            outcome = self._attempt(call, attempt, into)
            if isinstance(outcome, requests.Response):
                return outcome
            if attempt == self.retry.max_attempts:
                raise RetriesExhaustedError(
                    f"{self.source}: giving up on {method} {call.shown} after {attempt} "
                    f"attempts; last failure: {outcome.description}",
                    status=outcome.status,
                )
            log.warning(
                "%s: %s on %s %s; retry %d/%d in %.1f s",
                self.source,
                outcome.description,
                method,
                call.shown,
                attempt,
                self.retry.max_attempts - 1,
                outcome.delay,
            )
            self.sleep(outcome.delay)
        raise AssertionError("unreachable: RetryPolicy guarantees at least one attempt")

    def _attempt(
        self, call: _Call, attempt: int, into: BinaryIO | None
    ) -> requests.Response | _Failure:
        """One try: the response to hand back, a retryable failure, or a raised error."""
        try:
            response = self._session.request(
                call.method, call.url, timeout=self._timeout, **call.options
            )
        except _TRANSPORT_ERRORS as exc:
            return self._transport_failure(exc, attempt)
        except requests.RequestException as exc:
            raise SourceHttpError(
                f"{self.source}: {call.method} {call.shown} failed: {type(exc).__name__}: {exc}"
            ) from None
        status = response.status_code
        if into is not None and 200 <= status < 300:
            return self._download(response, into, attempt)
        if status < 400 or status in call.passthrough:
            return response
        with response:
            if status not in self.retry.retry_statuses:
                raise self._http_error(call, response)
            delay = self._retry_delay(call, response, attempt)
        return _Failure(f"HTTP {status}", status, delay)

    def _transport_failure(self, exc: Exception, attempt: int) -> _Failure:
        delay = self.retry.backoff(attempt, self._jitter())
        return _Failure(f"{type(exc).__name__}: {exc}", None, delay)

    def _download(
        self, response: requests.Response, into: BinaryIO, attempt: int
    ) -> requests.Response | _Failure:
        """Copy the body into `into` from its start; a body that breaks off is retryable."""
        into.seek(0)
        into.truncate()
        with response:
            try:
                for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK_BYTES):
                    into.write(chunk)
            except _TRANSPORT_ERRORS as exc:
                return self._transport_failure(exc, attempt)
        into.seek(0)
        return response

    def _retry_delay(self, call: _Call, response: requests.Response, attempt: int) -> float:
        hint = self._retry_hint(response)
        if hint is None:
            return self.retry.backoff(attempt, self._jitter())
        if hint > self.retry.max_retry_after_seconds:
            raise SourceHttpError(
                f"{self.source}: HTTP {response.status_code} on {call.method} {call.shown} "
                f"asks to wait {hint:.0f} s, longer than the allowed "
                f"{self.retry.max_retry_after_seconds:.0f} s",
                status=response.status_code,
            )
        return hint

    def _http_error(self, call: _Call, response: requests.Response) -> SourceHttpError:
        status = response.status_code
        body = response.text[:500].strip()
        if status in (401, 403):
            return SourceAuthError(
                f"{self.source}: HTTP {status} on {call.method} {call.shown}: the source refused "
                f"access; check the token and its permissions (a source may also refuse an "
                f"address it blocked for exceeding its rate limit). Body: {body}",
                status=status,
            )
        return SourceHttpError(
            f"{self.source}: HTTP {status} on {call.method} {call.shown}. Body: {body}",
            status=status,
        )


def iter_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a body read chunk by chunk (split on LF only, CR stripped)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r")
    if pending:
        yield pending.removesuffix(b"\r")
