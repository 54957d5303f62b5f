"""What one handler invocation puts on the wire, recorded in-process against the backing: its AWS
calls (hooked on the function context's boto3 session, so the layer's own clients are seen)
and the requests its vendor sandbox received. The first invocation of a fresh context is the
cold one (secret, token, claim, vendor call); a later one is warm. The work floor
(benchmarks.work_floor) and the warm benchmark's direct call replay exactly this."""

from __future__ import annotations

import base64
import importlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.backing import Backing
from benchmarks.probe import fresh
from benchmarks.stats import quiet_stdout
from benchmarks.work_floor import BYTES_KEY, Call
from devserver.lambda_context import LambdaContext
from devserver.template import Function
from gateway.context import Context
from tests.conftest import reset_layer_state

# Rokt's accepted example carries a cacheKey, so warm it is a cache hit (a DynamoDB read, no
# call to Rokt): the call to Rokt is measured with the same request without a cacheKey.
EXAMPLES = {
    "RoktExperienceFunction": ["rokt-experiences-uncached.json", "rokt-experiences-accepted.json"],
    "PostbackFunction": ["postback-accepted.json", "td-js-sdk-addrecord-accepted.json"],
    "PersonalizationFunction": [
        "personalization-accepted.json",
        "personalization-public-accepted.json",
    ],
}


class Recorder:
    """Records the AWS calls of the layer's clients while `on`."""

    def __init__(self) -> None:
        self.on = False
        self.calls: list[Call] = []

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.on:
            service = model.service_model.service_name
            self.calls.append({"aws": service, "operation": model.name, "params": _copy(params)})


@dataclass
class Handler:
    """A function's handler on a fresh context, with what its invocations sent."""

    invoke: Callable[[], dict[str, Any]]
    recorder: Recorder
    fn: Function
    backing: Backing
    event: dict[str, Any]
    # The EMF metrics (name, unit) the last recorded invocation emitted.
    metrics: list[tuple[str, str]] = field(default_factory=list)

    def sent(self) -> tuple[list[Call], dict[str, Any]]:
        """Invoke once with the recorder on: its calls (AWS calls first) and its answer."""
        sandbox = self.backing.sandbox_for(self.fn)
        first = len(sandbox.requests)
        self.recorder.calls.clear()
        self.recorder.on = True
        self.metrics = []
        # Imported by the handler, after its environment was set (Metrics reads its namespace).
        observability = importlib.import_module("gateway.core.observability")
        add_metric = observability.metrics.add_metric

        def counted(name: str, unit: Any, value: float, *args: Any, **kwargs: Any) -> None:
            self.metrics.append((name, str(getattr(unit, "value", unit))))
            add_metric(name, unit, value, *args, **kwargs)

        observability.metrics.add_metric = counted
        try:
            with quiet_stdout():
                answer = self.invoke()
        finally:
            self.recorder.on = False
            del observability.metrics.add_metric  # the class's method again
        http: list[Call] = [
            {
                "http": r.method,
                "url": sandbox.url + r.path,
                "headers": r.replay_headers(),
                "body": r.body.decode("latin-1"),
            }
            for r in sandbox.requests[first:]
        ]
        return [*self.recorder.calls, *http], answer


def examples(backing: Backing, fn: Function) -> list[str]:
    """The events a function's routes are measured with."""
    return EXAMPLES.get(fn.logical_id) or [backing.example(fn)[0]]


@contextmanager
def handler(
    backing: Backing,
    fn: Function,
    example: str | None = None,
    *,
    overrides: dict[str, str] | None = None,
    event: dict[str, Any] | None = None,
) -> Iterator[Handler]:
    """The function's handler in this process on a fresh context (a new execution
    environment) with its environment (and `overrides`), invoked with the example event (or
    `event`)."""
    saved = dict(os.environ)
    os.environ.update({**backing.envs[fn.logical_id], **(overrides or {})})
    reset_layer_state()
    module = importlib.import_module(fn.module)
    recorder = Recorder()
    _listen(module.context, recorder)  # before it makes its clients: they copy the hooks
    handle = getattr(module, fn.attribute)
    if event is None:
        _, event = backing.example(fn, example)
    context = LambdaContext(function_name=fn.logical_id, timeout_seconds=fn.timeout)

    def invoke() -> dict[str, Any]:
        assert event is not None
        response: dict[str, Any] = handle(fresh(event), context)
        return response

    try:
        yield Handler(invoke, recorder, fn, backing, event)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def record(backing: Backing, fn: Function, event_file: Path, path: Path) -> None:
    """Write to `path` what the handler sends and emits cold and warm for the event in
    `event_file`, with the event and the handler's answer."""
    with handler(backing, fn, event_file.name) as h:
        cold, answer = h.sent()
        cold_metrics = h.metrics
        warm, _ = h.sent()
    # The work floor answers the same event with the same answer and metrics.
    metrics = {"cold": cold_metrics, "warm": h.metrics}
    work = {"cold": cold, "warm": warm, "event": h.event, "answer": answer, "metrics": metrics}
    path.write_text(json.dumps(work))


def _listen(context: Context, recorder: Recorder) -> None:
    context.boto3_session.events.register(
        "provide-client-params", recorder, unique_id="benchmarks.work"
    )


def _copy(params: dict[str, Any]) -> dict[str, Any]:
    """The params as JSON (the work floor reads them back from it), a blob (the experience
    cache's compressed body) in base64 under BYTES_KEY; anything else unserializable fails
    here, not in the floor."""

    def blob(value: object) -> dict[str, str]:
        if isinstance(value, bytes):
            return {BYTES_KEY: base64.b64encode(value).decode()}
        raise TypeError(f"{type(value).__name__} in AWS call params")

    copied: dict[str, Any] = json.loads(json.dumps(params, default=blob))
    return copied
