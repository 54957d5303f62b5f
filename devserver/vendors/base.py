"""The sandbox server every vendor shares: a threaded HTTP/1.1 server on loopback that records
what it received, counts TCP connections, and injects faults on demand.

Control endpoint (JSON), beside the vendor's own paths:
  GET    /_sandbox/health     200 {"vendor": name, "status": "ok"} while the sandbox serves
  GET    /_sandbox/received   what the vendor accepted and everything it was sent
  POST   /_sandbox/faults     add a fault: {"status": 503, "count": 5, "rate": 1.0,
                              "latency_ms": 0, "mode": "status" | "timeout" | "reset" | "delay",
                              "path": "/prefix", "body": {...}, "headers": {...}, "seed": 1,
                              "skip": 0 (matching requests let through before it hits),
                              "method": "PUT" (only requests with this method match)}
  POST   /_sandbox/latency    {"latency_ms": 20}: added to every vendor answer
  DELETE /_sandbox/faults     clear faults
  POST   /_sandbox/reset      clear faults, records and counters
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CONTROL_PREFIX = "/_sandbox"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float = field(default_factory=time.monotonic)  # when it arrived (monotonic)

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def replay_headers(self) -> dict[str, str]:
        """The headers to send this request again with (the client sets host and length)."""
        return {k: v for k, v in self.headers.items() if k not in ("host", "content-length")}


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list -> JSON; str/bytes as is; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    stored: bool = True  # a 2xx the vendor did not keep (a dropped record) is not `received`

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, ensure_ascii=False).encode()


@dataclass
class Fault:
    status: int = 503
    # status: answer `status`; timeout: hang (>= 30 s) without processing; reset: drop the
    # connection; delay: wait latency_ms, then process normally (a vendor that accepted the
    # request after the client stopped waiting: the source of duplicates)
    mode: str = "status"
    count: int | None = None  # None: until cleared
    rate: float = 1.0  # chance that a matching request is hit
    latency_ms: int = 0
    path: str = ""
    skip: int = 0
    method: str = ""
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def from_json(cls, spec: dict[str, Any]) -> Fault:
        if spec.get("mode", "status") not in ("status", "timeout", "reset", "delay"):
            raise ValueError("mode must be status, timeout, reset or delay")
        seed = spec.pop("seed", None)
        known = {k: v for k, v in spec.items() if k in cls.__dataclass_fields__ and k != "rng"}
        return cls(**known, rng=random.Random(seed))


class VendorSandbox:
    """Subclasses implement `handle(request) -> Reply` after the vendor document."""

    name = "vendor"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        self.received: list[Request] = []  # accepted by the vendor (2xx)
        self.requests: list[Request] = []  # everything that reached a vendor path
        self.connections = 0
        self.latency_ms = 0
        self.in_flight = 0
        self.peak_in_flight = 0  # most vendor requests served at the same time
        self._server = _Server((host, port), _handler_for(self))
        self._server.sandbox = self
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> VendorSandbox:
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name=f"sandbox-{self.name}"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- control ------------------------------------------------------------------------------
    def add_fault(self, **spec: Any) -> None:
        with self._lock:
            self.faults.append(Fault.from_json(spec))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.received.clear()
            self.requests.clear()
            self.connections = 0
            self.latency_ms = 0
            self.peak_in_flight = 0
        self.reset_state()

    def reset_state(self) -> None:
        """Vendor-specific state (tokens, caches) cleared by /_sandbox/reset."""

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "vendor": self.name,
                "connections": self.connections,
                "peak_in_flight": self.peak_in_flight,
                "requests": len(self.requests),
                "received": [
                    {"method": r.method, "path": r.path, "body": _maybe_json(r.body)}
                    for r in self.received
                ],
            }

    # --- the vendor -----------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def _pick_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if not request.path.startswith(fault.path):
                    continue
                if fault.method and request.method != fault.method.upper():
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.count is not None and fault.count <= 0:
                    continue
                if fault.rng.random() >= fault.rate:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                return fault
        return None

    def _dispatch(self, request: Request) -> Reply | None:
        """The reply to send, or None when the connection must be dropped (reset fault)."""
        if request.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return self._vendor_reply(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _vendor_reply(self, request: Request) -> Reply | None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        fault = self._pick_fault(request)
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000)
            if fault.mode == "reset":
                return None
            if fault.mode == "delay":
                return self._handled(request)
            if fault.mode == "timeout":
                time.sleep(max(fault.latency_ms, 30_000) / 1000)
            return Reply(fault.status, fault.body, dict(fault.headers))
        return self._handled(request)

    def _handled(self, request: Request) -> Reply:
        reply = self.handle(request)
        if reply.status < 300 and reply.stored:
            with self._lock:
                self.received.append(request)
        return reply

    def _control(self, request: Request) -> Reply:
        route = request.path[len(CONTROL_PREFIX) :]
        try:
            if route == "/health" and request.method == "GET":
                return Reply(200, {"vendor": self.name, "status": "ok"})
            if route == "/received" and request.method == "GET":
                return Reply(200, self.summary())
            if route == "/faults" and request.method == "POST":
                self.add_fault(**request.json())
                return Reply(201, {"faults": len(self.faults)})
            if route == "/faults" and request.method == "DELETE":
                self.clear_faults()
                return Reply(204)
            if route == "/latency" and request.method == "POST":
                self.latency_ms = int(request.json()["latency_ms"])
                return Reply(204)
            if route == "/reset" and request.method == "POST":
                self.reset()
                return Reply(204)
        except (ValueError, TypeError, KeyError) as exc:
            return Reply(400, {"error": str(exc)})
        return Reply(404, {"error": f"no control route {request.method} {route}"})


def _maybe_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A vendor's listen backlog, not socketserver's 5: a burst of new connections (a batch's
    # concurrent calls) must queue, not be reset.
    request_queue_size = 128
    sandbox: VendorSandbox

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self.sandbox._lock:
            self.sandbox.connections += 1
        return conn, addr


def _handler_for(sandbox: VendorSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
        # Headers and body leave in one segment: unbuffered writes meet Nagle and delayed ACKs
        # and cost ~40 ms a response on loopback.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and the runtime read /_sandbox/received instead

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            reply = sandbox._dispatch(request)
            if reply is None:
                # RST instead of FIN: the client sees "connection reset by peer".
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                return
            payload = reply.encoded()
            self.send_response(reply.status)
            if payload or reply.status not in (204, 304):
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

    return Handler
