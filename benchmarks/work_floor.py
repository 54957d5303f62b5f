"""The work floor: what any function on the design's required stack must at least do for an
invocation, with no gateway code. Its process imports the required libraries, sets Powertools'
Logger, Metrics and Tracer up once, reads its configuration into a validated pydantic model (the
design's rule: the first model class is what loads pydantic's validators, about as much as
`import pydantic` itself), and replays exactly what one handler invocation put on the
wire (recorded by benchmarks.work): the same AWS calls with a plain boto3 client and the same
vendor requests with a pooled `requests` session, each invocation inside the required stack's
per-invocation work (`invocation`: Powertools' resolver, Logger, Tracer and EMF metrics, as
every handler has them). Its cold start is the handler's first invocation (the secret's
GetSecretValue, a token, the claim, the vendor call) with the same event; then the warm
invocations. Runs in the Lambda-like venv (benchmarks.lambda_venv), as the function's process:

    python -m benchmarks.work_floor WORK_FILE CALLS

and prints, on stderr, one JSON line as benchmarks.probe does."""

from __future__ import annotations

# ruff: noqa: E402 (the clock starts before the imports it measures)
import time

_START = time.perf_counter()

import base64
import contextlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any, Literal

import boto3
import botocore
import botocore.exceptions
import pydantic
import requests
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

Call = dict[str, Any]  # {"aws": service, "operation", "params"} or {"http": method, "url", ...}
BYTES_KEY = "$bytes"  # a blob in recorded AWS params: {"$bytes": base64}


class Configuration(pydantic.BaseModel):
    """A function's configuration as the design asks for one: validated, read once."""

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore")

    aws_region: str = "us-east-1"
    td_region: Literal["us01", "eu01", "ap01", "ap02"] = "us01"
    upstream_timeout_seconds: float = pydantic.Field(default=4.0, gt=0, le=25)
    retry_max_receives: int = pydantic.Field(default=12, ge=1, le=1000)
    retry_queue_url: str | None = None

    @pydantic.field_validator("retry_queue_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None


def replay(calls: list[Call], session: Any = None, http: Any = None) -> Callable[[], None]:
    """One direct call of everything in `calls`, clients made once. A refused AWS call (a
    condition that no longer holds on a replay) is still the call made."""
    session = session or boto3.session.Session()
    http = http or _http_session()
    clients = {c["aws"]: session.client(c["aws"]) for c in calls if "aws" in c}
    steps: list[Callable[[], Any]] = []
    for c in calls:
        if "aws" in c:
            method = getattr(clients[c["aws"]], botocore.xform_name(c["operation"]))
            steps.append(_aws_step(method, c["params"]))
        else:
            steps.append(_http_step(http, c))

    def direct() -> None:
        for step in steps:
            step()

    return direct


def invocation(
    route_key: str | None,
    answer: dict[str, Any],
    emitted: list[tuple[str, str]],
    direct: Callable[[], None],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The required stack's per-invocation work around `direct`, with no gateway code.
    Powertools' HTTP resolver routes the event to one route (`route_key`; None for the SQS
    function, which has no resolver and no correlation id) that makes the direct call, emits the
    metrics the handler emitted (EMF, flushed per invocation; `emitted` is read at each call)
    and answers what the handler answered; Logger takes the Lambda context and the correlation
    id from the request id, and Tracer captures the invocation unless tracing is off, as every
    function's entry point does."""
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.logging import correlation_paths

    logger, metrics = Logger(), Metrics()

    def work() -> None:
        direct()
        for name, unit in emitted:
            metrics.add_metric(name=name, unit=unit, value=1)

    if route_key is None:
        correlation_id_path = None

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            work()
            return answer

    else:
        correlation_id_path = correlation_paths.API_GATEWAY_HTTP
        method, _, path = route_key.partition(" ")
        app = APIGatewayHttpResolver()

        def route(**_: str) -> Response[str]:
            work()
            return Response(
                status_code=answer["statusCode"],
                content_type=answer.get("headers", {}).get("Content-Type"),
                body=answer.get("body", ""),
            )

        app.route(path.replace("{", "<").replace("}", ">"), method=method)(route)

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            return app.resolve(event, context)

    wrapped = logger.inject_lambda_context(correlation_id_path=correlation_id_path)(handler)
    if (tracer := _tracer()) is not None:
        wrapped = tracer.capture_lambda_handler(wrapped, capture_response=False)
    return metrics.log_metrics(wrapped, capture_cold_start_metric=True)


def _tracer() -> Tracer | None:
    """The function's Tracer, None where tracing is off (read as gateway.core.observability
    reads the switch). It patches the two libraries the calls go through: patching every
    library it supports would import and probe a dozen more, which is no required work."""
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true", "yes", "on"):
        return None
    return Tracer(patch_modules=("botocore", "requests"))


def _http_session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # as the gateway's: no walk of os.environ on every request
    return http


def _blobs(value: Any) -> Any:
    """Recorded params with their blobs as bytes again."""
    if isinstance(value, dict):
        if set(value) == {BYTES_KEY}:
            return base64.b64decode(value[BYTES_KEY])
        return {k: _blobs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blobs(v) for v in value]
    return value


def _aws_step(method: Callable[..., Any], recorded: dict[str, Any]) -> Callable[[], Any]:
    params = _blobs(recorded)
    sequences = _sequences(params)

    def step() -> None:
        # An ordering record is conditional on a later sequence: stamped anew, as the handler
        # stamps each write, its condition holds on every replay as it held for the handler
        # (in moto a cancelled transaction costs 2 ms less than one that writes).
        now = str(time.time_ns())
        for value in sequences:
            value["N"] = now
        with contextlib.suppress(botocore.exceptions.ClientError):
            method(**params)

    return step


def _sequences(params: Any) -> list[dict[str, str]]:
    """The `:seq` values of the call's condition expressions, wherever they sit."""
    if isinstance(params, list):
        return [found for item in params for found in _sequences(item)]
    if not isinstance(params, dict):
        return []
    found = [params[":seq"]] if isinstance(params.get(":seq"), dict) else []
    return found + [f for key, value in params.items() if key != ":seq" for f in _sequences(value)]


def _http_step(http: requests.Session, c: Call) -> Callable[[], Any]:
    body = c["body"].encode("latin-1")

    def step() -> None:
        http.request(c["http"], c["url"], headers=c["headers"], data=body, timeout=5)

    return step


def main() -> None:
    work_file, calls = sys.argv[1], int(sys.argv[2])
    with open(work_file) as f:
        work = json.load(f)
    Configuration.model_validate({k.lower(): v for k, v in os.environ.items()})
    # The first invocation replays what the handler's first one sent and emitted, the others
    # what a warm one did; all of them through the required stack's per-invocation work.
    # Both are read at each call: set to the warm ones after the first invocation.
    emitted = list(work["metrics"]["cold"])
    sent: list[Callable[[], None]] = [lambda: replay(work["cold"])()]  # clients made in the call
    handler = invocation(work["event"].get("routeKey"), work["answer"], emitted, lambda: sent[0]())
    imported = time.perf_counter()
    from devserver.lambda_context import LambdaContext  # as benchmarks.probe: after the clock

    context = LambdaContext(function_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "WorkFloor"))
    first = handler(dict(work["event"]), context)
    if calls > 1:
        sent[0] = replay(work["warm"])
        emitted[:] = work["metrics"]["warm"]
        for _ in range(calls - 1):
            handler(dict(work["event"]), context)
    done = time.perf_counter()
    from benchmarks.probe import peak_rss_kib

    print(
        json.dumps(
            {
                "import_ms": (imported - _START) * 1000,
                "calls_ms": (done - imported) * 1000,
                "status": first.get("statusCode", first),  # as benchmarks.probe says it
                "maxrss_kib": peak_rss_kib(),
            }
        ),
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
