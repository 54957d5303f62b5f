"""What every HTTP handler shares: the Event Handler app with the error mapping, request body
parsing, and response shaping for vendor answers and queued writes."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from gateway import problems
from gateway.errors import GatewayError, InvalidRequest
from gateway.json_body import parse_json, parse_json_object
from gateway.observability import logger
from gateway.vendor_response import Queued, VendorResponse


def create_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    @app.exception_handler(GatewayError)
    def _gateway_error(error: GatewayError) -> Response[str]:
        log = logger.error if error.status >= 500 else logger.info
        log("request failed", extra={"code": error.code, "status": error.status})
        return problems.from_error(error)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        # The trace goes to the log only; the caller gets a problem, never a stack trace.
        logger.exception("unhandled error")
        return problems.problem(
            500,
            "INTERNAL_ERROR",
            "Internal error",
            "the gateway failed unexpectedly; the error was logged",
        )

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        event = app.current_event
        return problems.problem(
            404,
            "ROUTE_NOT_FOUND",
            "Not found",
            f"no route for {event.request_context.http.method} {event.path}",
        )

    return app


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("body is not valid base64", code="INVALID_BODY_ENCODING") from None


IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as a header value allows


def idempotency_key(event: APIGatewayProxyEventV2) -> str | None:
    """The `Idempotency-Key` request header, checked; None when the caller sent none."""
    key = event.headers.get("idempotency-key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return key


def json_body(event: APIGatewayProxyEventV2, *, max_bytes: int) -> Any:
    return parse_json(raw_body(event), max_bytes=max_bytes)


def json_object_body(event: APIGatewayProxyEventV2, *, max_bytes: int) -> dict[str, Any]:
    return parse_json_object(raw_body(event), max_bytes=max_bytes)


def vendor_response(answer: VendorResponse | Queued) -> Response[str]:
    """A vendor's success passed through, or 202 for a write queued for retry."""
    replayed = {"Idempotency-Replayed": "true"} if answer.replayed else {}
    if isinstance(answer, Queued):
        return Response(
            status_code=202,
            content_type="application/json",
            body=json.dumps({"status": "queued", "retryId": answer.retry_id}),
            headers=replayed or None,
        )
    if answer.status == 204:
        # No content and no type (a None body would be serialized as "null").
        return Response(status_code=204, body="", headers={**answer.headers, **replayed} or None)
    return Response(
        status_code=answer.status,
        content_type=answer.content_type or "application/json",
        body=answer.body,
        headers={**answer.headers, **replayed} or None,
    )
