"""Serves the web console and what its page reads, on the API's own origin (so the page makes
no cross-origin call):

  GET  /                                      the console
  GET  /_local/console/<file>                 its CSS and JavaScript
  GET  /_local/console/routes                 the template's routes with an example from events/
  GET  /_local/console/sandboxes              what each vendor sandbox received (newest first)
  POST/DELETE /_local/console/sandboxes/<name>/faults, POST .../reset
                                              the sandbox's own control calls, passed through
  GET  /_local/sdk-sample.html                a page running td-js-sdk against the gateway
  GET  /_local/td-js-sdk/td.min.js            the SDK from node_modules (npm ci)

Queue depths and dead letters stay where they are: GET /_local/status, /_local/dead-letters."""

from __future__ import annotations

import json
import mimetypes
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devserver.template import ROOT, Function

STATIC = Path(__file__).resolve().parent / "static"
EVENTS = ROOT / "events"
SDK_DIST = ROOT / "node_modules" / "td-js-sdk" / "dist"
SDK_FILES = ("td.min.js", "td.js")
RECEIVED_SHOWN = 25  # per sandbox: the console shows recent traffic, not a benchmark's worth
SANDBOX_TIMEOUT_SECONDS = 5

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Console:
    functions: list[Function]
    sandboxes: dict[str, str]  # name -> base URL
    https_url: str | None = None

    def handle(self, method: str, path: str, body: bytes) -> Answer | None:
        """The console's answer, or None for a path that is not the console's."""
        if method in ("GET", "HEAD"):
            if path == "/":
                return _file(STATIC / "index.html")
            if path == "/_local/sdk-sample.html":
                return _file(STATIC / "sdk-sample.html")
            if path.startswith("/_local/td-js-sdk/"):
                return _sdk(path.removeprefix("/_local/td-js-sdk/"))
            if path == "/_local/console/routes":
                return _json(200, self.routes())
            if path == "/_local/console/sandboxes":
                return _json(200, self.received())
            if path == "/_local/console/config":
                return _json(200, {"https": self.https_url})
            if path.startswith("/_local/console/"):
                name = path.removeprefix("/_local/console/")
                static = {p.name: p for p in STATIC.iterdir() if p.name != "index.html"}
                return _file(static[name]) if name in static else _json(404, {"error": name})
        if path.startswith("/_local/console/sandboxes/"):
            return self.control(method, path.removeprefix("/_local/console/sandboxes/"), body)
        return None

    def routes(self) -> list[dict[str, Any]]:
        examples = _examples()
        return [
            {
                "function": fn.logical_id,
                "method": route.method,
                "path": route.path,
                "auth": route.auth,
                **examples.get(f"{route.method} {route.path}", {"params": {}, "body": "{}"}),
            }
            for fn in self.functions
            for route in fn.routes
        ]

    def received(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, url in self.sandboxes.items():
            try:
                summary = _call("GET", f"{url}/_sandbox/received")[1]
            except (OSError, ValueError) as exc:
                out[name] = {"url": url, "error": f"{type(exc).__name__}: {exc}"}
                continue
            received = summary.pop("received", [])
            out[name] = {
                **summary,
                "url": url,
                "received_total": len(received),
                "received": [
                    {**r, "body": _redacted(r.get("body"))} for r in received[::-1][:RECEIVED_SHOWN]
                ],
            }
        return out

    def control(self, method: str, rest: str, body: bytes) -> Answer:
        name, _, action = rest.partition("/")
        url = self.sandboxes.get(name)
        if url is None:
            return _json(404, {"error": f"no sandbox {name!r}; there are {sorted(self.sandboxes)}"})
        if (method, action) not in (("POST", "faults"), ("DELETE", "faults"), ("POST", "reset")):
            return _json(405, {"error": f"{method} {action} is not a sandbox control call"})
        try:
            status, answer = _call(method, f"{url}/_sandbox/{action}", body or None)
        except (OSError, ValueError) as exc:
            return _json(502, {"error": f"{type(exc).__name__}: {exc}"})
        return (204, {}, b"") if status == 204 else _json(status, answer)


# What a vendor is sent to authenticate (RichRelevance's OAuth form, say) stays off the page.
SECRET_NAME = re.compile(r"secret|password|token|api[_-]?key|write[_-]?key", re.IGNORECASE)
# In a form body also the OAuth client id, part of the same secret.
SECRET_PAIR = re.compile(
    r"((?:^|&)(?:client_id|[^=&]*(?:secret|password|token|api[_-]?key|write[_-]?key)[^=&]*)=)"
    r"[^&]*",
    re.IGNORECASE,
)


def _redacted(body: Any) -> Any:
    if isinstance(body, dict):
        return {
            k: "(redacted)" if SECRET_NAME.search(str(k)) else _redacted(v) for k, v in body.items()
        }
    if isinstance(body, list):
        return [_redacted(item) for item in body]
    if isinstance(body, str):
        return SECRET_PAIR.sub(r"\1(redacted)", body)
    return body


def _examples() -> dict[str, dict[str, Any]]:
    """routeKey -> path parameters and body of its example in events/ (an *-accepted one first)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(EVENTS.glob("*.json")):
        event: dict[str, Any] = json.loads(path.read_text())
        key = event.get("routeKey")
        if not key or event.get("isBase64Encoded") or not event.get("body"):
            continue
        if key not in found or "accepted" in path.name:
            content_type = (event.get("headers") or {}).get("content-type", "application/json")
            found[key] = {
                "params": event.get("pathParameters") or {},
                "body": event["body"],
                "contentType": content_type,
            }
    return found


def _call(method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (loopback)
    if body:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=SANDBOX_TIMEOUT_SECONDS) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw) if raw else {}


def _file(path: Path) -> Answer:
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    return 200, {"Content-Type": content_type, "Cache-Control": "no-cache"}, path.read_bytes()


def _sdk(name: str) -> Answer:
    path = SDK_DIST / name
    if name not in SDK_FILES:
        return _json(404, {"error": f"the SDK is served as {' or '.join(SDK_FILES)}"})
    if not path.exists():
        return _json(404, {"error": "td-js-sdk is not installed: run scripts/browser-deps.sh"})
    return _file(path)


def _json(status: int, value: Any) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()
