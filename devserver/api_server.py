"""The HTTP front: plays API Gateway's HTTP API on loopback. Routes come from template.yaml;
each request becomes a payload 2.0 event for the function's pool, and the function's answer
becomes the HTTP response, as API Gateway would shape it."""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from re import Pattern
from typing import Any
from urllib.parse import unquote, urlsplit

from devserver.apigw_event import http_api_event, iam_authorizer, route_regex
from devserver.cors import CorsPolicy
from devserver.jwt_authorizer import UNAUTHORIZED, JwtAuthorizer
from devserver.template import Route
from devserver.workers import FunctionPool, InvocationError, WorkerCrashed

# Lambda's synchronous invocation payload limit: API Gateway answers 413 above it.
MAX_EVENT_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class BoundRoute:
    route: Route
    regex: Pattern[str]
    function: str


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        routes: list[BoundRoute],
        pools: dict[str, FunctionPool],
        *,
        cors: CorsPolicy,
        admin: Callable[[str], tuple[int, Any]] | None = None,
        quiet: bool = False,
        jwt: JwtAuthorizer | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.routes = routes
        self.pools = pools
        self.cors = cors
        self.admin = admin
        # The web console and its /_local/ endpoints (devserver.console): (method, path, body)
        # -> (status, headers, body), or None for a path it does not serve.
        self.console: Callable[[str, str, bytes], tuple[int, dict[str, str], bytes] | None]
        self.console = lambda method, path, body: None
        self.quiet = quiet
        self.jwt = jwt
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="api")
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def match(self, method: str, raw_path: str) -> tuple[BoundRoute, dict[str, str]] | None:
        for bound in self.routes:
            if bound.route.method == method and (m := bound.regex.fullmatch(raw_path)):
                # API Gateway hands path parameters over decoded (rawPath stays encoded).
                return bound, {k: unquote(v) for k, v in m.groupdict().items()}
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._reply(status, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def _serve(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        if (page := self.server.console(self.command, parts.path, body)) is not None:
            status, headers, payload = page
            self._reply(status, payload, headers)
            return
        if parts.path.startswith("/_local/") and self.server.admin and self.command == "GET":
            self._json(*self.server.admin(parts.path))
            return
        if self.command == "OPTIONS" and self.headers.get("Access-Control-Request-Method"):
            preflight = {k.lower(): v for k, v in self.headers.items()}
            self._reply(204, b"", self.server.cors.preflight(preflight))  # API Gateway's own
            return
        cors = self.server.cors.response_headers(self.headers.get("Origin"))
        found = self.server.match(self.command, parts.path)
        if found is None:
            self._json(404, {"message": "Not Found"})
            return
        bound, params = found
        if len(body) > MAX_EVENT_BYTES:
            self._json(413, {"message": "Request Entity Too Large"})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        authorizer = self._authorize(bound.route, headers.get("authorization"))
        if authorizer is None:
            self._reply(
                401, json.dumps(UNAUTHORIZED).encode(), {"Content-Type": "application/json", **cors}
            )
            return
        event = http_api_event(
            bound.route,
            parts.path,
            path_parameters=params or None,
            headers=headers,
            body=body if length else None,
            raw_query=parts.query,
            source_ip=self.client_address[0],
            authorizer=authorizer or None,
        )
        try:
            result = self.server.pools[bound.function].invoke(event)
            status, out_headers, payload = _http_response(result)
        except InvocationError as exc:
            print(f"  {bound.function} failed: {exc}", file=sys.stderr)
            status, out_headers, payload = (
                502 if isinstance(exc, WorkerCrashed) else 500,
                {"Content-Type": "application/json"},
                b'{"message":"Internal Server Error"}',
            )
        self._reply(status, payload, {**out_headers, **cors})
        if not self.server.quiet:
            ms = (time.perf_counter() - started) * 1000
            print(
                f"{self.command} {self.path} -> {status} {bound.function} {ms:.0f} ms", flush=True
            )

    def _authorize(self, route: Route, authorization: str | None) -> dict[str, Any] | None:
        """API Gateway's authorizer for the route: its context ({} = none), None = 401."""
        if route.auth == "AWS_IAM":
            return iam_authorizer(authorization, default_caller="local-developer")
        if self.server.jwt and self.server.jwt.guards(route.method, route.path):
            return self.server.jwt.authorize(authorization)
        return {}

    def __getattr__(self, name: str) -> Any:
        # Every method (QUERY, TRACE, ...) reaches the router: like API Gateway, an unrouted
        # one is a 404, where http.server would answer 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)


def _http_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Payload 2.0 response rules: a dict with statusCode is taken as is; anything else is a
    200 JSON body."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    for cookie in result.get("cookies") or []:
        headers.setdefault("Set-Cookie", cookie)
    return int(result["statusCode"]), headers, payload


def bind_routes(functions: dict[str, list[Route]]) -> list[BoundRoute]:
    bound = [
        BoundRoute(r, route_regex(r), name) for name, routes in functions.items() for r in routes
    ]
    # Literal segments before parameters, as API Gateway prefers the most specific route.
    return sorted(bound, key=lambda b: b.route.path.count("{"))
