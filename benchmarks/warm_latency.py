"""Warm added latency per route: the handler (in-process, warm) minus a direct replay of exactly
what the handler sent in one call: its vendor requests to the loopback sandbox (a pooled
`requests` session) and its AWS calls to moto (a plain boto3 client). A Rokt cache hit sends
no vendor request, only a DynamoDB GetItem: its direct call is that GetItem. Connections the
sandbox accepted during the timed handler calls show connection reuse."""

from __future__ import annotations

import copy
import importlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore
import requests

from benchmarks.backing import Backing
from benchmarks.stats import percentile, quiet_stdout
from devserver.lambda_context import LambdaContext
from devserver.template import Function
from devserver.vendors.base import Request, VendorSandbox
from gateway.context import Context
from tests.conftest import reset_layer_state

WARMUP = 20
# Rokt's accepted example carries a cacheKey, so warm it is a cache hit (a DynamoDB read, no
# call to Rokt): the call to Rokt is measured with the same request without a cacheKey.
EXAMPLES = {
    "RoktExperienceFunction": ["rokt-experiences-uncached.json", "rokt-experiences-accepted.json"]
}


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
    new_connections: int | None  # None: the handler sent nothing to the sandbox
    calls: int
    sent: list[str] = field(default_factory=list)  # what one handler call sent, replayed direct

    @property
    def added_p50_ms(self) -> float:
        return self.handler_p50_ms - self.direct_p50_ms

    @property
    def added_p99_ms(self) -> float:
        return self.handler_p99_ms - self.direct_p99_ms


@dataclass
class _AwsCall:
    service: str
    operation: str
    params: dict[str, Any]


class _AwsRecorder:
    """Records the AWS calls of the layer's clients (its context's boto3 session) while `on`: on
    during the warm-up only, so that the timed handler calls carry no copying of their own."""

    def __init__(self) -> None:
        self.on = False
        self.calls: list[_AwsCall] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.on:
            service = model.service_model.service_name
            self.calls.append(_AwsCall(service, model.name, copy.deepcopy(params)))


_RECORDER = _AwsRecorder()


def examples(backing: Backing, fn: Function) -> list[str]:
    """The events a route's warm latency is measured with."""
    return EXAMPLES.get(fn.logical_id) or [backing.example(fn)[0]]


def measure(backing: Backing, fn: Function, calls: int, example: str | None = None) -> RouteLatency:
    os.environ.update(backing.envs[fn.logical_id])
    reset_layer_state()
    module = importlib.import_module(fn.module)
    handler = getattr(module, fn.attribute)
    _listen_to_aws_calls(module.context)  # before it makes its clients: they copy the hooks
    name, event = backing.example(fn, example)
    sandbox = backing.sandbox_for(fn)
    context = LambdaContext(function_name=fn.logical_id, timeout_seconds=fn.timeout)

    def invoke() -> dict[str, Any]:
        response: dict[str, Any] = handler(dict(event), context)
        return response

    with quiet_stdout():
        _RECORDER.on = True
        for _ in range(WARMUP):
            first_request = len(sandbox.requests)
            _RECORDER.calls.clear()
            status = invoke()["statusCode"]
        _RECORDER.on = False
        # What the last warm call put on the wire.
        sent_http = sandbox.requests[first_request:]
        sent_aws = list(_RECORDER.calls)
        direct = _replay(sandbox, sent_http, sent_aws)
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
    return RouteLatency(
        fn.logical_id,
        event["routeKey"],  # the example's route (a function may serve several)
        name,
        status,
        percentile(handler_ms, 50),
        percentile(handler_ms, 99),
        percentile(direct_ms, 50),
        percentile(direct_ms, 99),
        new_connections if sent_http else None,
        calls,
        [f"{c.service} {c.operation}" for c in sent_aws]
        + [f"{r.method} {r.path.split('?')[0]}" for r in sent_http],
    )


def _listen_to_aws_calls(context: Context) -> None:
    """Hook `_RECORDER` to the boto3 session of the function's (fresh) context."""
    context.boto3_session.events.register(
        "provide-client-params", _RECORDER, unique_id="benchmarks.warm_latency"
    )


def _replay(sandbox: VendorSandbox, http: list[Request], aws: list[_AwsCall]) -> Callable[[], None]:
    """One direct call of all the handler sent: AWS calls, then vendor requests."""
    session = requests.Session()
    session.trust_env = False  # as the gateway's: no walk of os.environ on every request
    aws_session = boto3.session.Session()  # its own hooks: not recorded
    clients = {c.service: aws_session.client(c.service) for c in aws}  # type: ignore[call-overload]
    aws_calls = [
        (getattr(clients[c.service], botocore.xform_name(c.operation)), c.params) for c in aws
    ]
    http_calls = [(r.method, sandbox.url + r.path, r.replay_headers(), r.body) for r in http]

    def direct() -> None:
        for call, params in aws_calls:
            call(**params)
        for method, url, headers, body in http_calls:
            session.request(method, url, headers=headers, data=body, timeout=5)

    return direct


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e6
