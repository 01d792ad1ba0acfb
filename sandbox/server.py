"""HTTP plumbing shared by the sandbox servers (sandbox-internal).

Each vendor module implements `Api` (plain request in, plain response out); this module
runs it on a `ThreadingHTTPServer` in a background thread and adds what every sandbox
server has: a request counter and a deterministic fault queue.
"""

import json
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

SHUTDOWN_POLL_SECONDS = 0.05  # how long stop() may wait for the serving loop to notice


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
        """The vendor's error response for `status`: used for injected faults and crashes."""


class FaultQueue:
    """Statuses to answer instead of serving, per path prefix, consumed in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[int]] = {}

    def push(self, path_prefix: str, statuses: list[int]) -> None:
        with self._lock:
            self._queues.setdefault(path_prefix, deque()).extend(statuses)

    def pop(self, path: str) -> int | None:
        with self._lock:
            for prefix, statuses in self._queues.items():
                if statuses and path.startswith(prefix):
                    return statuses.popleft()
        return None


class _SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self.faults = FaultQueue()
        self.request_count = 0
        self._count_lock = threading.Lock()

    def respond(self, request: Request) -> Response:
        with self._count_lock:
            self.request_count += 1
        status = self.faults.pop(request.path)
        if status is not None:
            return self.api.error(status, "fault injected by the sandbox")
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
        self._send(self.server.respond(request))

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

    def inject(self, path_prefix: str, statuses: list[int]) -> None:
        """Answer the next requests under `path_prefix` with `statuses`, in order."""
        self._httpd.faults.push(path_prefix, statuses)

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
