"""What a handler reads off an HTTP API (payload 2.0) event: the body, checked, the
`Idempotency-Key`, and the caller's identity."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from gateway.core.errors import InvalidRequest
from gateway.core.json_body import parse_json, parse_json_object


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


def caller(event: APIGatewayProxyEventV2) -> str | None:
    """Who is calling, where API Gateway authenticated them: the IAM principal's ARN, or the
    JWT's issuer and subject. None for an anonymous caller."""
    authorizer = event.raw_event.get("requestContext", {}).get("authorizer") or {}
    iam = authorizer.get("iam") or {}
    if isinstance(iam, dict) and iam.get("userArn"):
        return f"iam:{iam['userArn']}"
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    if isinstance(claims, dict) and claims.get("sub"):
        return f"jwt:{claims.get('iss', '')}:{claims['sub']}"
    return None
