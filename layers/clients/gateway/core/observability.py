"""Powertools Logger, Tracer and Metrics: created once, applied the same way to every handler."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger()
metrics = Metrics()
# Only what the layer calls through (the AWS SDK and requests), not patch_all's every supported
# library, which imports sqlite3 and probes a dozen others. Not http.client either: urllib3 2,
# under both, does not send through the method it wraps, so it recorded nothing and only put a
# wrapper on every call (tests/integration/test_tracing.py shows the same trace without it).
PATCHED_MODULES = ("botocore", "requests")


def _tracer() -> Tracer | None:
    # Importing the X-Ray SDK is the largest single cost of a cold start (benchmarks/REPORT.md):
    # with tracing turned off (TracingEnabled=false sets Powertools' own switch) it is not loaded.
    if os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true", "yes", "on"):
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=PATCHED_MODULES)


tracer = _tracer()

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
        return metrics.log_metrics(wrapped, capture_cold_start_metric=True)

    return decorate
