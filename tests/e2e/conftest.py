"""E2E fixtures: the local runtime started as a user starts it (`python -m devserver`), on free
ports, and spoken to over HTTP only."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from devserver.vendors.registry import SANDBOXES
from tests.conftest import ROOT
from tests.secret_guard import leaks

# A bound for a loaded machine (moto, four sandboxes and ten worker processes importing at once).
STARTUP_SECONDS = 180


@dataclass
class Runtime:
    process: subprocess.Popen[str]
    state: dict[str, Any]
    log: Path
    left_behind: bool = False  # processes of its group still alive after it exited

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


class RuntimeStartFailed(RuntimeError):
    def __init__(self, process: subprocess.Popen[str], output: str) -> None:
        super().__init__(f"the runtime did not become healthy:\n{output}")
        self.process = process  # killed, with its process group


def start_runtime(
    state_dir: Path, *extra: str, startup_seconds: float = STARTUP_SECONDS
) -> Runtime:
    """Start `python -m devserver` in a process group of its own and return once its health
    endpoint answers 200; on any failure on the way, the whole group is killed first."""
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
    with log.open("w") as out:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its workers die with it: see kill_group
        )
    try:
        state = _wait_healthy(process, state_dir / "state.json", startup_seconds)
    except BaseException:
        kill_group(process)
        raise
    if state is None:
        kill_group(process)
        raise RuntimeStartFailed(process, log.read_text())
    return Runtime(process, state, log)


def _wait_healthy(
    process: subprocess.Popen[str], state_file: Path, within: float
) -> dict[str, Any] | None:
    """The runtime's state once GET /_local/health answers 200; None if it exits or the time
    runs out. A state file that is not this process's (an earlier run's, maybe cut short) is
    read again until the runtime has replaced it."""
    deadline = time.monotonic() + within
    while process.poll() is None and time.monotonic() < deadline:
        try:
            state: dict[str, Any] = json.loads(state_file.read_text())
            ours = state["pid"] == process.pid  # not an earlier run's file
            if ours and requests.get(state["health"], timeout=5).status_code == 200:
                return state
        except (OSError, ValueError, KeyError, requests.RequestException):
            pass
        time.sleep(0.2)
    return None


def stop_runtime(runtime: Runtime) -> int:
    """Ctrl-C, as a user stops it; whatever is left of its process group is killed after."""
    runtime.process.send_signal(signal.SIGINT)
    try:
        code = runtime.process.wait(timeout=60)
        deadline = time.monotonic() + 15  # its workers exit just after it
        while group_alive(runtime.process) and time.monotonic() < deadline:
            time.sleep(0.2)
        runtime.left_behind = group_alive(runtime.process)
        return code
    finally:
        kill_group(runtime.process)


def kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process and everything it started (worker processes, resource tracker)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)


def group_alive(process: subprocess.Popen[str]) -> bool:
    """Whether any process of the runtime's group is left."""
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextmanager
def runtime_running(state_dir: Path, *extra: str) -> Iterator[Runtime]:
    """A runtime for the block's duration, stopped however the block ends."""
    rt = start_runtime(state_dir, *extra)
    try:
        yield rt
    finally:
        stop_runtime(rt)


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    # Replays at once and gives up after 3 receives, so a record's whole life fits in a test.
    with runtime_running(
        tmp_path_factory.mktemp("runtime"),
        "--set",
        "RETRY_BACKOFF_BASE_SECONDS=0",
        "--set",
        "RETRY_MAX_RECEIVES=3",
    ) as rt:
        yield rt
    assert not rt.left_behind, "a process of the runtime outlived it"
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
