"""Fixtures every tier shares: offline AWS settings, a Lambda context, the events/ loader, and a
clean slate of the layer's per-process caches between tests."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"

# Set before any boto3 client exists: fake credentials, no tracing daemon, a metrics namespace.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "ActivationGateway",
        "POWERTOOLS_SERVICE_NAME": "activation-gateway-tests",
    }
)
os.environ.pop("AWS_PROFILE", None)

from devserver.lambda_context import LambdaContext  # noqa: E402
from gateway.context import Context  # noqa: E402
from tests.secret_guard import leaks  # noqa: E402


def reset_layer_state() -> None:
    """What a fresh Lambda execution environment would start with: every handler module that
    is loaded gets a new `Context` (settings read again from the environment, no clients, no
    cached secrets or tokens)."""
    for name, module in list(sys.modules.items()):
        old = getattr(module, "context", None)
        if name.startswith("functions.") and isinstance(old, Context):
            old.close()
            module.context = Context()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _fresh_layer_state() -> Iterator[None]:
    reset_layer_state()
    yield
    reset_layer_state()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Every log line a test produced (Powertools logs to stdout) is checked for secrets."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    found = leaks([report.capstdout, report.capstderr, report.caplog])
    if found and report.passed and report.when == "call":
        report.outcome = "failed"
        report.longrepr = f"{len(found)} secret value(s) reached the output of {item.nodeid}"


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(function_name="test-function", timeout_seconds=10)


@pytest.fixture
def load_event() -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        event: dict[str, Any] = json.loads((EVENTS / name).read_text())
        return event

    return load
