"""A real HTTP server on 127.0.0.1 that plays a vendor, for tests and benchmarks.

Each vendor fake subclasses ``FakeVendor`` and implements ``handle(request) -> Reply``. The base
serves it on a free port in a thread, records every request, and can inject faults for the next
requests: ``"500"`` (HTTP 500), ``"timeout"`` (answers after the client's read timeout),
``"drop"`` (closes the connection without answering) and ``"garbage"`` (HTML error page).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, default: str | None = None) -> str | None:
        """A parameter from the form body or else the query string."""
        if name in self.form:
            return self.form[name]
        return self.query.get(name, default)


@dataclass
class Reply:
    body: bytes | str
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"

    def encoded(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # socketserver's 5 makes concurrent clients see false connect timeouts
    daemon_threads = True


def _flat(qs: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in qs.items()}


class FakeVendor:
    """Base of the fake vendors. Subclasses implement ``handle``."""

    form_encoding = "utf-8"  # how application/x-www-form-urlencoded bodies are decoded
    timeout_sleep = 3.0  # longer than the read timeout the tests configure

    def __init__(self):
        self.delay = 0.0  # seconds every answer takes (a slow vendor)
        self.requests: list[FakeRequest] = []
        self.faults: deque[str] = deque()
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- to override
    def handle(self, request: FakeRequest) -> Reply:
        raise NotImplementedError

    # ---- lifecycle
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeVendor:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms a request

            def log_message(self, *args):  # keep test output quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = _flat(parse_qs(parts.query, keep_blank_values=True, encoding=fake.form_encoding))
                headers = {k.lower(): v for k, v in self.headers.items()}
                form = {}
                if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
                    form = _flat(parse_qs(body.decode("latin-1"), keep_blank_values=True, encoding=fake.form_encoding))
                request = FakeRequest(self.command, parts.path, query, headers, body, form)
                with fake.lock:
                    fake.requests.append(request)
                    fault = fake.faults.popleft() if fake.faults else None
                if fake.delay:
                    time.sleep(fake.delay)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault == "timeout":
                    time.sleep(fake.timeout_sleep)
                    reply = Reply("late", 200)
                elif fault == "500":
                    reply = Reply("Internal Server Error", 500)
                elif fault == "garbage":
                    reply = Reply("<html><body><h1>502 Bad Gateway</h1></body></html>", 200, "text/html")
                else:
                    try:
                        reply = fake.handle(request)
                    except Exception as exc:  # a bug in a fake must be loud, not a hang
                        reply = Reply(f"fake vendor crashed: {exc!r}", 599)
                payload = reply.encoded()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = _serve
            do_POST = _serve

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at once: a connection wakes serve_forever's poll instead of waiting it out."""
        server = self._server
        if server is None:
            return
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            try:
                socket.create_connection(server.server_address[:2], timeout=0.2).close()
            except OSError:
                pass
            stopper.join(0.01)
        server.server_close()

    def inject(self, *faults: str) -> None:
        """Make the next requests fail, one fault per request, in order."""
        self.faults.extend(faults)

    @property
    def last(self) -> FakeRequest:
        return self.requests[-1]
