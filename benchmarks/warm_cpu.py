"""The warm path's CPU with every answer canned: the handler, the warm work floor and the direct
call of benchmarks.warm_latency, each vendor and AWS answer recorded once from the sandbox and
moto and then handed back from memory (a requests adapter and botocore's `before-send`), so
that no socket, no moto and no sandbox thread shares the timed calls. What is left is the
client libraries' own work (signing, serializing, parsing), the required stack's and the
gateway's: a few microseconds of spread where the loopback figures have a millisecond (moto's
DynamoDB calls). Handler minus floor is the gateway's own code, floor minus direct the stack's."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import requests
from botocore.awsrequest import AWSResponse
from botocore.httpsession import URLLib3Session
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from benchmarks import warm_latency, work
from benchmarks.backing import Backing
from benchmarks.probe import fresh
from benchmarks.stats import percentile, quiet_stdout
from benchmarks.work_floor import invocation, replay
from devserver.lambda_context import LambdaContext
from devserver.template import Function

WARMUP = 100


@dataclass
class RouteCpu:
    function: str
    example: str
    handler_p50_us: float
    floor_p50_us: float
    direct_p50_us: float
    calls: int
    sandbox_requests: int  # what reached the vendor sandbox during the timed calls: 0, canned


class Canned:
    """Within it, every HTTP call of this process's clients (requests' adapter, botocore's
    session) goes out once per method, URL and AWS operation for real and is then answered
    from memory."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str, str], tuple[int, dict[str, str], bytes]] = {}

    def _answer(self, request: Any, send: Callable[[], tuple[int, dict[str, str], bytes]]) -> Any:
        # Not the body: it holds the time, a uuid or a sequence, new on every call.
        key = (request.method, request.url, request.headers.get("X-Amz-Target", ""))
        if key not in self._answers:
            self._answers[key] = send()
        return self._answers[key]

    @contextmanager
    def installed(self) -> Iterator[None]:
        http_send, aws_send = HTTPAdapter.send, URLLib3Session.send

        def http(adapter: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
            def real() -> tuple[int, dict[str, str], bytes]:
                r = http_send(adapter, request, *args, **kwargs)
                return r.status_code, dict(r.headers), r.content

            status, headers, content = self._answer(request, real)
            response = requests.Response()
            response.status_code, response.url, response.request = status, request.url, request
            response.headers = CaseInsensitiveDict(headers)
            response.encoding = get_encoding_from_headers(response.headers)
            response._content = content
            return response

        def aws(session: URLLib3Session, request: Any) -> AWSResponse:
            def real() -> tuple[int, dict[str, str], bytes]:
                r = aws_send(session, request)
                return r.status_code, dict(r.headers), r.content

            status, headers, content = self._answer(request, real)
            return AWSResponse(request.url, status, headers, _Body(content))

        with patch.object(HTTPAdapter, "send", http), patch.object(URLLib3Session, "send", aws):
            yield


class _Body:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._content


def measure(backing: Backing, fn: Function, calls: int, example: str | None = None) -> RouteCpu:
    sandbox = backing.sandbox_for(fn)
    with work.handler(backing, fn, example) as h:
        with quiet_stdout():
            for _ in range(warm_latency.WARMUP):
                sent, answer = h.sent()  # what a warm call sends (the first also reads secrets)
        direct = replay(sent)
        floor_handler = invocation(h.event["routeKey"], answer, h.metrics, direct)
        lambda_context = LambdaContext(function_name="WorkFloor", timeout_seconds=fn.timeout)

        def floor() -> dict[str, Any]:
            return floor_handler(fresh(h.event), lambda_context)

        with quiet_stdout(), Canned().installed():
            for _ in range(WARMUP):
                h.invoke()
                floor()
                direct()
            timed: tuple[list[float], list[float], list[float]] = ([], [], [])
            before = len(sandbox.requests)
            for _ in range(calls):
                for samples, call in zip(timed, (h.invoke, floor, direct), strict=True):
                    samples.append(_timed_us(call))
            reached = len(sandbox.requests) - before
    name, _ = backing.example(fn, example)
    handler_us, floor_us, direct_us = (percentile(s, 50) for s in timed)
    return RouteCpu(fn.logical_id, name, handler_us, floor_us, direct_us, calls, reached)


def _timed_us(call: Callable[[], Any]) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1e3
