"""Powertools Logger, Tracer and Metrics: created once, applied the same way to every handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

from gateway import invocation

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Handler = Callable[[dict[str, Any], Any], Any]


def instrumented(
    correlation_id_path: str | None = correlation_paths.API_GATEWAY_HTTP,
) -> Callable[[Handler], Handler]:
    """Wrap a Lambda entry point with structured logging (correlation id), tracing and EMF."""

    def decorate(handler: Handler) -> Handler:
        def bound(event: dict[str, Any], context: Any) -> Any:
            invocation.bind(context)
            return handler(event, context)

        wrapped = logger.inject_lambda_context(correlation_id_path=correlation_id_path)(bound)
        wrapped = tracer.capture_lambda_handler(wrapped)
        return metrics.log_metrics(wrapped)

    return decorate
