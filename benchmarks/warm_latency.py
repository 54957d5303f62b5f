"""Warm added latency per route: the handler (in-process, warm) against a loopback sandbox, minus
a direct pooled `requests` call replaying the very request the handler sent to that sandbox.
Connections the sandbox accepted during the timed handler calls show connection reuse."""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import dataclass
from typing import Any

import requests

from benchmarks.backing import Backing
from benchmarks.stats import percentile, quiet_stdout
from devserver.lambda_context import LambdaContext
from devserver.template import Function
from tests.conftest import reset_layer_state

WARMUP = 20


@dataclass
class RouteLatency:
    function: str
    route: str
    status: int
    handler_p50_ms: float
    handler_p99_ms: float
    direct_p50_ms: float
    direct_p99_ms: float
    new_connections: int
    calls: int

    @property
    def added_p50_ms(self) -> float:
        return self.handler_p50_ms - self.direct_p50_ms

    @property
    def added_p99_ms(self) -> float:
        return self.handler_p99_ms - self.direct_p99_ms


def measure(backing: Backing, fn: Function, calls: int) -> RouteLatency:
    os.environ.update(backing.envs[fn.logical_id])
    reset_layer_state()
    handler = getattr(importlib.import_module(fn.module), fn.attribute)
    _, event = backing.example(fn)
    sandbox = backing.sandbox_for(fn)
    context = LambdaContext(function_name=fn.logical_id, timeout_seconds=fn.timeout)

    def invoke() -> dict[str, Any]:
        response: dict[str, Any] = handler(dict(event), context)
        return response

    with quiet_stdout():
        for _ in range(WARMUP):
            status = invoke()["statusCode"]
        sent = sandbox.requests[-1]  # what the handler put on the wire
        session = requests.Session()
        url = sandbox.url + sent.path
        headers = {k: v for k, v in sent.headers.items() if k not in ("host", "content-length")}

        def direct() -> requests.Response:
            return session.request(sent.method, url, headers=headers, data=sent.body, timeout=5)

        for _ in range(WARMUP):
            direct()
        # Interleaved, so that both see the same machine at the same moment.
        handler_ms: list[float] = []
        direct_ms: list[float] = []
        new_connections = 0
        for _ in range(calls):
            before = sandbox.connections
            handler_ms.append(_timed(invoke))
            new_connections += sandbox.connections - before
            direct_ms.append(_timed(direct))
    route = fn.routes[0]
    return RouteLatency(
        fn.logical_id,
        f"{route.method} {route.path}",
        status,
        percentile(handler_ms, 50),
        percentile(handler_ms, 99),
        percentile(direct_ms, 50),
        percentile(direct_ms, 99),
        new_connections,
        calls,
    )


def _timed(call: Any) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e6
