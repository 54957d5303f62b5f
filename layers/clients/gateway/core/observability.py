"""Powertools Logger, Tracer and Metrics: created once, applied the same way to every handler."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger()
metrics = Metrics()
# Only what the layer calls through, not patch_all's every supported library, which imports
# sqlite3 and probes a dozen others. Not http.client: urllib3 2 does not send through the method
# it wraps, so it recorded nothing. Not requests: its patch wraps `Session.request`, which the
# vendor session does not take (traced_vendor_call records its calls the same way).
PATCHED_MODULES = ("botocore",)


def _tracer() -> Tracer | None:
    # Importing the X-Ray SDK is the largest single cost of a cold start (benchmarks/REPORT.md):
    # with tracing turned off (TracingEnabled=false sets Powertools' own switch) it is not loaded.
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true", "yes", "on"):
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=PATCHED_MODULES)


tracer = _tracer()


def freeze_init_heap() -> None:
    """Set what the process has made so far apart from the cyclic garbage collector. Called in
    the init phase only: the modules, classes and validators that imports make live as long as
    the process, and a collection walking them again finds nothing. A cold start's full
    collection otherwise walks the whole heap (13-25 ms of a 400 ms cold start, in the import
    or the first invocation as allocation counts fall; benchmarks/results/fix-gc-freeze.md).
    Twice: here, as the layer sets Powertools up (Powertools and pydantic are loaded by then),
    and when a handler module decorates its entry point (its last statement: the end of init)."""
    gc.freeze()


freeze_init_heap()

T = TypeVar("T")


def traced_vendor_call(method: str, url: str, call: Callable[[dict[str, str]], T]) -> T:
    """`call(trace_headers)`, recorded with tracing on as the X-Ray SDK's requests patch records
    a call (its own recorder, subsegment and metadata: `remote`, named after the host, with method,
    URL and status or the exception), the trace header passing the subsegment on to the vendor."""
    if tracer is None:
        return call({})
    from aws_xray_sdk.core import xray_recorder
    from aws_xray_sdk.ext.requests.patch import requests_processor
    from aws_xray_sdk.ext.util import get_hostname, inject_trace_header

    def recorded(*_: Any) -> T:
        headers: dict[str, str] = {}
        inject_trace_header(headers, xray_recorder.current_subsegment())
        return call(headers)

    return xray_recorder.record_subsegment(
        recorded,
        None,
        (method, url),  # what requests_processor reads: Session.request's (method, url)
        {},
        name=get_hostname(url),
        namespace="remote",
        meta_processor=requests_processor,
    )


Handler = Callable[[dict[str, Any], Any], Any]


def instrumented(
    correlation_id_path: str | None = correlation_paths.API_GATEWAY_HTTP,
) -> Callable[[Handler], Handler]:
    """Wrap a Lambda entry point with structured logging (correlation id), tracing (responses
    not captured: they carry personal data) and EMF with the cold-start metric."""

    def decorate(handler: Handler) -> Handler:
        wrapped = logger.inject_lambda_context(correlation_id_path=correlation_id_path)(handler)
        if tracer is not None:
            wrapped = tracer.capture_lambda_handler(wrapped, capture_response=False)
        freeze_init_heap()
        return metrics.log_metrics(wrapped, capture_cold_start_metric=True)

    return decorate
