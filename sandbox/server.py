"""HTTP plumbing shared by the sandbox servers (sandbox-internal).

Each vendor module implements `Api` (plain request in, plain response out); this module
runs it on a `ThreadingHTTPServer` in a background thread and adds what every sandbox
server has: a request counter, deterministic faults (queued per path, or scheduled by
request number) and hooks that change the data just before the n-th request to a path.
"""

import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, urlsplit

from sandbox.faults import Fault, FaultKind

log = logging.getLogger(__name__)

SHUTDOWN_POLL_SECONDS = 0.05  # how long stop() may wait for the serving loop to notice
DEFAULT_STALL_SECONDS = 5.0  # how long a Fault.TIMEOUT holds its answer back


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]  # as parse_qs gives it, blank values kept
    headers: Message
    body: bytes
    base_url: str  # scheme and authority the client used, for links in responses


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    status: int, payload: Any, content_type: str, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return Response(status, body, {"Content-Type": content_type, **(headers or {})})


class Api(Protocol):
    def handle(self, request: Request) -> Response:
        """Answer one request."""

    def error(self, status: int, detail: str) -> Response:
        """The vendor's answer with `status`: used for injected faults and crashes."""


@dataclass(frozen=True)
class _Hook:
    path: str
    nth: int  # run before the nth request to `path` counted from when the hook was added
    action: Callable[[], None]


class FaultPlan:
    """What to do instead of serving: faults queued per path prefix, faults scheduled for a
    request number, and data changes hooked to the n-th request to a path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[FaultKind]] = {}
        self._scheduled: dict[int, FaultKind] = {}
        self._hooks: list[_Hook] = []
        self._path_counts: dict[str, int] = {}

    def push(self, path_prefix: str, faults: list[FaultKind]) -> None:
        with self._lock:
            self._queues.setdefault(path_prefix, deque()).extend(faults)

    def schedule(self, number: int, fault: FaultKind) -> None:
        with self._lock:
            self._scheduled[number] = fault

    def hook(self, path: str, nth: int, action: Callable[[], None]) -> None:
        if nth < 1:
            raise ValueError(f"nth must be at least 1, got {nth}")
        with self._lock:
            counted = self._path_counts.get(path, 0)
            self._hooks.append(_Hook(path, counted + nth, action))

    def take(self, number: int, path: str) -> FaultKind | None:
        """Run the hooks due at this request, then the fault to answer it with, if any."""
        with self._lock:
            count = self._path_counts[path] = self._path_counts.get(path, 0) + 1
            due = [hook for hook in self._hooks if hook.path == path and hook.nth == count]
            self._hooks = [hook for hook in self._hooks if hook not in due]
            for hook in due:
                hook.action()
            if number in self._scheduled:
                return self._scheduled.pop(number)
            for prefix, faults in self._queues.items():
                if faults and path.startswith(prefix):
                    return faults.popleft()
        return None


@dataclass(frozen=True)
class _Delivery:
    """A response and how it travels: intact, late, or cut off."""

    response: Response
    fault: Fault | None = None


class _SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.faults = FaultPlan()
        self.stall_seconds = DEFAULT_STALL_SECONDS
        self.request_count = 0
        self._count_lock = threading.Lock()

    def respond(self, request: Request) -> _Delivery:
        with self._count_lock:
            self.request_count += 1
            number = self.request_count
        fault = self.faults.take(number, request.path)
        if isinstance(fault, Fault):
            # The server does the work (a report's poll counts); the client never sees it.
            return _Delivery(self._serve(request), fault)
        if fault is not None:
            return _Delivery(self.api.error(fault, "fault injected by the sandbox"))
        return _Delivery(self._serve(request))

    def _serve(self, request: Request) -> Response:
        try:
            return self.api.handle(request)
        except Exception:
            log.exception("sandbox failed on %s %s", request.method, request.path)
            return self.api.error(500, "the sandbox failed on this request")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY every keep-alive
    # response would stall on the client's delayed ACK (about 40 ms).
    disable_nagle_algorithm = True
    server: _SandboxHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._send(self.server.api.error(400, "Content-Length is not a number"))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        host, port = self.server.server_address[:2]
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            base_url=f"http://{self.headers.get('Host') or f'{host}:{port}'}",
        )
        delivery = self.server.respond(request)
        if delivery.fault is Fault.TRUNCATE:
            self._send_truncated(delivery.response)
        elif delivery.fault is Fault.TIMEOUT:
            time.sleep(self.server.stall_seconds)
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client gave up and closed the connection
                self._send(delivery.response)
        else:
            self._send(delivery.response)

    def _send_truncated(self, response: Response) -> None:
        """Announce the whole body, send half of it and drop the connection; with no body
        to cut, drop the connection before any answer."""
        self.close_connection = True
        if not response.body:
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body[: len(response.body) // 2])

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:  # 204 carries neither a body nor its length
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.status != 204:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class RunningServer:
    """A sandbox server serving in a background thread until `stop()`."""

    def __init__(self, api: Api, host: str, port: int) -> None:
        self._httpd = _SandboxHTTPServer((host, port), api)
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name=f"sandbox {self.url}",
            daemon=True,
        )
        self._thread.start()
        self._stopped = False

    @property
    def request_count(self) -> int:
        """Requests received so far, answered or refused."""
        return self._httpd.request_count

    @property
    def stall_seconds(self) -> float:
        """How long a `Fault.TIMEOUT` holds its answer back (make it exceed the client's
        read timeout)."""
        return self._httpd.stall_seconds

    @stall_seconds.setter
    def stall_seconds(self, seconds: float) -> None:
        self._httpd.stall_seconds = seconds

    def inject(self, path_prefix: str, faults: list[FaultKind]) -> None:
        """Answer the next requests under `path_prefix` with `faults`, in order."""
        self._httpd.faults.push(path_prefix, faults)

    def schedule(self, faults: Mapping[int, FaultKind]) -> None:
        """Answer requests by number with faults: {1: 429} fails the next request to any
        path, {3: Fault.TIMEOUT} the third from now. Scheduled faults come before queued."""
        base = self.request_count
        for number, fault in faults.items():
            if number < 1:
                raise ValueError(f"request numbers count from 1, got {number}")
            self._httpd.faults.schedule(base + number, fault)

    def on_request(self, path: str, nth: int, action: Callable[[], None]) -> None:
        """Run `action` (a change to the served data) just before the `nth` request from now
        to exactly `path` is answered, faulted or not."""
        self._httpd.faults.hook(path, nth, action)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
