"""E2E fixtures: the local runtime started as a user starts it (`python -m devserver`), on free
ports, and spoken to over HTTP only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from devserver.vendors.registry import SANDBOXES
from tests.conftest import ROOT
from tests.secret_guard import leaks

STARTUP_SECONDS = 60


@dataclass
class Runtime:
    process: subprocess.Popen[str]
    state: dict[str, Any]
    log: Path

    @property
    def api(self) -> str:
        return str(self.state["api"])

    def sandbox(self, name: str) -> str:
        return str(self.state["sandboxes"][name])

    def summary(self, sandbox: str) -> dict[str, Any]:
        """The sandbox's /_sandbox/received: what it accepted, and how many requests it got."""
        answer = requests.get(f"{self.sandbox(sandbox)}/_sandbox/received", timeout=5)
        summary: dict[str, Any] = answer.json()
        return summary

    def received(self, sandbox: str) -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = self.summary(sandbox)["received"]
        return received

    def fault(self, sandbox: str, **spec: Any) -> None:
        requests.post(
            f"{self.sandbox(sandbox)}/_sandbox/faults", json=spec, timeout=5
        ).raise_for_status()

    def clear_faults(self, sandbox: str) -> None:
        requests.delete(f"{self.sandbox(sandbox)}/_sandbox/faults", timeout=5).raise_for_status()

    def dead_letters(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = requests.get(
            f"{self.api}/_local/dead-letters", timeout=10
        ).json()["messages"]
        return messages


def start_runtime(state_dir: Path, *extra: str) -> Runtime:
    log = state_dir / "runtime.out"
    args = [
        sys.executable,
        "-m",
        "devserver",
        "--port",
        "0",
        "--moto-port",
        "0",
        *(arg for spec in SANDBOXES for arg in ("--sandbox-port", f"{spec.name}=0")),
        "--state-dir",
        str(state_dir),
        *extra,
    ]
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    state_file = state_dir / "state.json"
    deadline = time.monotonic() + STARTUP_SECONDS
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the runtime did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return Runtime(process, json.loads(state_file.read_text()), log)


def stop_runtime(runtime: Runtime) -> int:
    runtime.process.send_signal(signal.SIGINT)
    try:
        return runtime.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        runtime.process.kill()
        raise


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    # Replays at once and gives up after 3 receives, so a record's whole life fits in a test.
    rt = start_runtime(
        tmp_path_factory.mktemp("runtime"),
        "--set",
        "RETRY_BACKOFF_BASE_SECONDS=0",
        "--set",
        "RETRY_MAX_RECEIVES=3",
    )
    yield rt
    stop_runtime(rt)
    logs = [p.read_text() for p in (rt.log.parent / "logs").glob("*.log")] + [rt.log.read_text()]
    assert not leaks(logs), "a function log or the runtime's output carries a secret value"


def eventually(check: Callable[[], Any], *, within: float = 30, every: float = 0.3) -> Any:
    """Poll `check` until it returns something truthy (a liveness bound, not a speed test)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)
