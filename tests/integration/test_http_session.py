"""Vendor calls honour the environment's proxy settings as requests does (HTTP_PROXY, NO_PROXY),
although the session reads them once per origin instead of on every request; they carry the
headers requests sends by default and the caller's, and never a cookie: the session serves
every caller, so what a vendor set on one call must not ride on another caller's."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from gateway import USER_AGENT
from gateway.core.settings import Settings
from gateway.vendors.http_session import VendorSession

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class _Recorder(http.server.ThreadingHTTPServer):
    paths: list[str]
    headers: list[dict[str, str]]


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Recorder

    def do_POST(self) -> None:
        # A forward proxy is sent the absolute URL; a server reached directly, only the path.
        self.server.paths.append(self.path)
        self.server.headers.append(dict(self.headers.items()))
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        # As a load balancer or a vendor's tracking might: a cookie for the next call.
        self.send_header("set-cookie", f"visitor=caller-{len(self.server.paths)}; Path=/")
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Recorder]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    server = _Recorder(("127.0.0.1", 0), _Handler)
    server.paths = []
    server.headers = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def session() -> Iterator[VendorSession]:
    # Made before a test sets its variables: they are read on the first call to an origin.
    vendor_session = VendorSession(Settings())
    yield vendor_session
    vendor_session.close()


def _post(session: VendorSession, url: str) -> int:
    return session.send("POST", url, vendor="rokt", data=b"{}").status_code


def test_vendor_calls_go_through_the_environments_proxy(
    recorder: _Recorder, session: VendorSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{recorder.server_port}")

    statuses = [_post(session, "http://rokt.invalid/v2/partner/experiences") for _ in range(2)]

    assert statuses == [200, 200]
    assert recorder.paths == ["http://rokt.invalid/v2/partner/experiences"] * 2


def test_no_proxy_hosts_are_called_directly(
    recorder: _Recorder, session: VendorSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: would fail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    status = _post(session, f"http://127.0.0.1:{recorder.server_port}/v2/partner/experiences")

    assert status == 200
    assert recorder.paths == ["/v2/partner/experiences"]


def test_without_proxy_settings_calls_are_direct(
    recorder: _Recorder, session: VendorSession
) -> None:
    assert _post(session, f"http://127.0.0.1:{recorder.server_port}/v2/partner/experiences") == 200
    assert recorder.paths == ["/v2/partner/experiences"]


def test_a_cookie_a_vendor_set_never_rides_on_a_later_call(
    recorder: _Recorder, session: VendorSession
) -> None:
    url = f"http://127.0.0.1:{recorder.server_port}/v2/partner/experiences"

    first = session.send("POST", url, vendor="rokt", headers={"rokt-tag-id": "a"}, data=b"{}")
    session.send("POST", url, vendor="rokt", headers={"rokt-tag-id": "b"}, data=b"{}")

    assert first.headers["set-cookie"] == "visitor=caller-1; Path=/"
    assert [h.get("Cookie") for h in recorder.headers] == [None, None]


def test_a_vendor_receives_requests_default_headers_and_the_callers(
    recorder: _Recorder, session: VendorSession
) -> None:
    url = f"http://127.0.0.1:{recorder.server_port}/v2/partner/experiences"

    session.send("POST", url, vendor="rokt", headers={"accept": "application/json"}, data=b"{}")

    assert recorder.headers == [
        {
            "Host": f"127.0.0.1:{recorder.server_port}",
            "User-Agent": USER_AGENT,
            "Accept-Encoding": "gzip, deflate",
            "accept": "application/json",  # the caller's, over requests' `*/*`
            "Connection": "keep-alive",
            "Content-Length": "2",
        }
    ]
