"""`sam local start-api`: one request per route of the template, each built from that route's
event in events/ (an *-accepted.json one where there is one)."""

from __future__ import annotations

import base64
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devserver.template import Template
from tests.conftest import EVENTS, ROOT
from tests.integration.test_events import EXPECTED
from tests.sam_local.conftest import SAM, SAM_ENV, LocalStack, assert_no_secret, load

pytestmark = pytest.mark.slow

ROUTES = [f"{route.method} {route.path}" for fn in Template().functions() for route in fn.routes]
STARTUP_SECONDS = 120


def route_event(route_key: str) -> str:
    """The event file for a route: the accepted example first, else any of the route's events."""
    files = [
        path.name
        for path in sorted(EVENTS.glob("*.json"))
        if load(path.name).get("routeKey") == route_key
    ]
    assert files, f"events/ has no event for {route_key}"
    return next((name for name in files if "accepted" in name), files[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def api(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("sam-start-api") / "start-api.log"
    process = subprocess.Popen(
        [
            *(SAM, "local", "start-api", *local_stack.sam_args),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        cwd=ROOT,
        env=SAM_ENV,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"sam local start-api did not start:\n{log.read_text()}")
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
    assert_no_secret(log.read_text())


@pytest.mark.parametrize("route_key", ROUTES)
def test_route_through_sam_local_start_api(api: str, route_key: str) -> None:
    event_file = route_event(route_key)
    event: dict[str, Any] = load(event_file)
    body = event.get("body") or ""
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = {k: v for k, v in event.get("headers", {}).items() if k.lower() == "content-type"}

    answer = requests.request(
        event["requestContext"]["http"]["method"],
        f"{api}{event['rawPath']}",
        data=data,
        headers=headers,
        timeout=300,
    )

    assert answer.status_code == EXPECTED[event_file][1], answer.text
    assert_no_secret(answer.text)
