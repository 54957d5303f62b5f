"""Warm added latency per route: the handler (in-process, warm) minus a direct replay of exactly
what the handler sent in one call: its vendor requests to the loopback sandbox (a pooled
`requests` session) and its AWS calls to moto (a plain boto3 client). A Rokt cache hit sends
no vendor request, only a DynamoDB GetItem: its direct call is that GetItem. Connections the
sandbox accepted during the timed calls show connection reuse. The timed calls run in a forked
copy of this process (benchmarks.apart), so that the backing's threads do not share the
handler's interpreter, as nothing shares a Lambda function's.

The warm work floor (benchmarks.work_floor.invocation) makes the same direct call inside the
required stack's per-invocation work (Powertools' resolver, Logger, EMF metrics): handler minus
floor is the gateway's own code, floor minus direct the required stack's share."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from benchmarks import work
from benchmarks.apart import in_child
from benchmarks.backing import Backing
from benchmarks.probe import fresh
from benchmarks.stats import added_interval, percentile, quiet_stdout
from benchmarks.work_floor import invocation, replay
from devserver.lambda_context import LambdaContext
from devserver.template import Function

WARMUP = 20


@dataclass
class RouteLatency:
    function: str
    route: str
    example: str  # the event file in events/
    status: int
    handler_p50_ms: float
    handler_p99_ms: float
    direct_p50_ms: float
    direct_p99_ms: float
    floor_p50_ms: float
    floor_p99_ms: float
    new_connections: int | None  # None: the handler sent nothing to the sandbox
    calls: int
    sent: list[str] = field(default_factory=list)  # what one handler call sent, replayed direct
    # 95 % bootstrap interval of added p50 (benchmarks.stats.added_interval)
    added_p50_interval: tuple[float, float] | None = None

    @property
    def added_p50_ms(self) -> float:
        return self.handler_p50_ms - self.direct_p50_ms

    @property
    def added_p99_ms(self) -> float:
        return self.handler_p99_ms - self.direct_p99_ms


def measure(backing: Backing, fn: Function, calls: int, example: str | None = None) -> RouteLatency:
    sandbox = backing.sandbox_for(fn)
    with work.handler(backing, fn, example) as h:
        for _ in range(WARMUP):
            sent, answer = h.sent()  # what the last warm call put on the wire
        direct = replay(sent)
        floor_handler = invocation(h.event["routeKey"], answer, h.metrics, direct)
        context = LambdaContext(function_name="WorkFloor", timeout_seconds=fn.timeout)

        def floor() -> dict[str, Any]:
            return floor_handler(fresh(h.event), context)

        with quiet_stdout():
            if (status := floor()["statusCode"]) != answer["statusCode"]:  # missed its route
                raise RuntimeError(f"work floor answered {status}: {fn.logical_id}")

            def timed() -> tuple[list[float], list[float], list[float]]:
                # Warmed up in the copy: its first calls write to pages it still shares with
                # this process, and each write copies a page.
                for _ in range(WARMUP):
                    h.invoke()
                    floor()
                    direct()
                # Interleaved, so that all three see the same machine at the same moment.
                samples: tuple[list[float], list[float], list[float]] = ([], [], [])
                for _ in range(calls):
                    for into, call in zip(samples, (h.invoke, floor, direct), strict=True):
                        into.append(_timed(call))
                return samples

            before = sandbox.connections
            handler_ms, floor_ms, direct_ms = in_child(timed)
            # Every session was warmed up above: any connection the sandbox accepted now is a
            # warm call that did not reuse one (counted for the three alike: a bound on the
            # handler's).
            new_connections = sandbox.connections - before
    name, event = backing.example(fn, example)
    http = [c for c in sent if "http" in c]
    return RouteLatency(
        fn.logical_id,
        event["routeKey"],  # the example's route (a function may serve several)
        name,
        answer["statusCode"],
        percentile(handler_ms, 50),
        percentile(handler_ms, 99),
        percentile(direct_ms, 50),
        percentile(direct_ms, 99),
        percentile(floor_ms, 50),
        percentile(floor_ms, 99),
        new_connections if http else None,
        calls,
        [f"{c['aws']} {c['operation']}" for c in sent if "aws" in c]
        + [f"{c['http']} {urlsplit(c['url']).path}" for c in http],
        added_interval(handler_ms, direct_ms, 50),
    )


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e6
