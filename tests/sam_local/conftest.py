"""sam-local fixtures: Docker with the stand-in Lambda image (scripts/sam-local-image.sh), `sam
build` into a temporary directory, and the local runtime's moto and vendor sandboxes on free
loopback ports with an --env-vars file for them. The containers share the host's loopback
(dockerd runs with no bridge network), so every byte stays on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devserver.sam_env import local_env, render
from devserver.template import Template
from tests.conftest import EVENTS, ROOT
from tests.e2e.conftest import Runtime, runtime_running
from tests.secret_guard import leaks

SAM = str(ROOT / ".venv-sam" / "bin" / "sam")  # AWS SAM CLI's own venv (make install)
IMAGE_SCRIPT = ROOT / "scripts" / "sam-local-image.sh"
DOCKER_CANNOT_RUN = 77  # the script's exit code when no Docker engine can run here
SAM_ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0"}


@pytest.fixture(scope="session")
def lambda_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Docker and the image; a dockerd that the script started for this session is stopped
    after it (one that was already running is left as it was)."""
    pid_file = tmp_path_factory.mktemp("dockerd") / "started.pid"
    result = subprocess.run(
        ["bash", str(IMAGE_SCRIPT)],
        cwd=ROOT,
        env={**os.environ, "STARTED_DOCKERD_PID_FILE": str(pid_file)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    try:
        if result.returncode == DOCKER_CANNOT_RUN:
            pytest.skip(f"sam local needs a Docker engine: {result.stderr.strip()}")
        assert result.returncode == 0, result.stderr
        yield
    finally:
        if pid_file.exists():
            stop_process(int(pid_file.read_text()))


def stop_process(pid: int, *, grace_seconds: float = 60) -> None:
    """SIGTERM, then SIGKILL if it is still there after the grace period (dockerd stops its
    containerd and containers on SIGTERM)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def built_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sam-local-build")
    subprocess.run(
        [
            *(SAM, "build", "--build-dir", str(out), "--cache-dir", str(out / ".cache")),
            *("--template-file", str(ROOT / "template.yaml")),
        ],
        cwd=ROOT,
        env=SAM_ENV,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return out / "template.yaml"


@dataclass
class LocalStack:
    runtime: Runtime
    template: Path
    env_file: Path

    @property
    def sam_args(self) -> list[str]:
        """What `--config-env local` sets, with this run's template and env file."""
        return [
            "--template-file",
            str(self.template),
            "--skip-pull-image",
            "--docker-network",
            "host",
            "--env-vars",
            str(self.env_file),
        ]

    def vendor_calls(self) -> int:
        """Requests the vendor sandboxes have received so far."""
        return sum(len(self.runtime.received(name)) for name in self.runtime.state["sandboxes"])


@pytest.fixture(scope="session")
def local_stack(
    lambda_image: None, built_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("sam-local-runtime")
    # start_runtime waits for the runtime's health endpoint; the block stops the runtime however
    # the set-up after it or the tests end.
    with runtime_running(state_dir) as runtime:
        env_file = state_dir / "env.json"
        env = local_env(Template(), runtime.state["aws_endpoint"], runtime.state["sandboxes"])
        env_file.write_text(render(env))
        yield LocalStack(runtime, built_template, env_file)


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def assert_no_secret(*texts: str) -> None:
    assert not leaks(list(texts)), "sam local's output carries a secret value"
