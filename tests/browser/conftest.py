"""Browser fixtures: the local runtime started as tests/e2e starts it, and Debian's headless
Chromium driven by Selenium through Debian's chromedriver (no driver download).

Pages claim the origins the gateway allows locally (http://localhost:3000, the API on
http://127.0.0.1:3000, HTTPS on https://127.0.0.1:3443) while the runtime runs on free ports:
Chromium's own host resolver maps those host:port pairs onto the runtime, so the browser's CORS
checks see exactly the origins a developer's browser would, and nothing else on the machine
needs to be free or is reached."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

from devserver.console.server import SDK_DIST, STATIC
from tests.conftest import ROOT
from tests.e2e.conftest import Runtime, start_runtime, stop_runtime
from tests.secret_guard import leaks

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / ".devserver" / "screenshots"
PAGE_ORIGIN = "http://localhost:3000"  # where the tests' pages run (an allowed origin)
API = "http://127.0.0.1:3000"  # the gateway as the page addresses it
HTTPS_API = "127.0.0.1:3443"  # fetchPersonalization's endpoint host (it adds https://)
SCRIPT_SECONDS = 60


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER, SDK_DIST / "td.min.js") if not p.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run scripts/browser-deps.sh")
    # Replays at once and gives up after 3 receives, so a record's whole life fits in a test.
    rt = start_runtime(
        tmp_path_factory.mktemp("browser-runtime"),
        "--set",
        "RETRY_BACKOFF_BASE_SECONDS=0",
        "--set",
        "RETRY_MAX_RECEIVES=3",
    )
    yield rt
    stop_runtime(rt)
    logs = [p.read_text() for p in (rt.log.parent / "logs").glob("*.log")] + [rt.log.read_text()]
    assert not leaks(logs), "a function log or the runtime's output carries a secret value"


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


@pytest.fixture
def browser(
    runtime: Runtime, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[WebDriver]:
    api, https = _port(runtime.api), _port(runtime.state["api_https"])
    rules = ",".join(
        [
            f"MAP localhost:3000 127.0.0.1:{api}",
            f"MAP 127.0.0.1:3000 127.0.0.1:{api}",
            f"MAP 127.0.0.1:3443 127.0.0.1:{https}",
        ]
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--ignore-certificate-errors",  # the runtime's self-signed certificate
        f"--host-resolver-rules={rules}",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_script_timeout(SCRIPT_SECONDS)
    driver.set_page_load_timeout(SCRIPT_SECONDS)
    try:
        yield driver
    finally:
        screenshot(driver, request.node.name, final=True)
        driver.quit()


def screenshot(driver: WebDriver, name: str, *, final: bool = False) -> Path:
    """Saved under .devserver/screenshots/ (gitignored); the last one of a test is kept as is."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^\w.-]+", "_", name) + ".png")
    if not (final and path.exists()):
        driver.save_screenshot(str(path))
    return path


@pytest.fixture
def shot(browser: WebDriver, request: pytest.FixtureRequest) -> Callable[[], Path]:
    return lambda: screenshot(browser, request.node.name)


def sample_url(origin: str = PAGE_ORIGIN, **params: str) -> str:
    query = {"endpoint": f"{API}/v1/td/", "p13n": f"{HTTPS_API}/v1/personalization", **params}
    return f"{origin}/_local/sdk-sample.html?" + "&".join(f"{k}={v}" for k, v in query.items())


def run_sdk(driver: WebDriver, script: str) -> Any:
    """Run `script` (async JavaScript using `sample`, the sample page's SDK wrappers) and return
    what it returns."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"(async () => {{ await window.sample.ready; {script} }})()"
        ".then(done, (error) => done({error: String(error)}));"
    )


class _StaticPages(BaseHTTPRequestHandler):
    """The sample page and the SDK, from a second loopback port: another origin."""

    FILES: ClassVar[dict[str, Path]] = {
        "/_local/sdk-sample.html": STATIC / "sdk-sample.html",
        "/_local/console/console.css": STATIC / "console.css",
        "/_local/td-js-sdk/td.min.js": SDK_DIST / "td.min.js",
    }
    TYPES: ClassVar[dict[str, str]] = {
        ".html": "text/html",
        ".css": "text/css",
        ".js": "text/javascript",
    }

    def do_GET(self) -> None:
        path = self.FILES.get(urlsplit(self.path).path)
        body = path.read_bytes() if path else b"not found"
        self.send_response(200 if path else 404)
        kind = self.TYPES.get(path.suffix if path else "", "text/plain")
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def other_origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StaticPages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
