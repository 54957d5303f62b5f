"""RFC 9457 problem details: the one place where errors become HTTP responses."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response

from gateway.core.errors import GatewayError

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body = {
        "type": f"urn:activation-gateway:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }
    return Response(
        status_code=status,
        content_type=PROBLEM_JSON,
        body=json.dumps(body, ensure_ascii=False),
        headers=headers,
    )


def from_error(error: GatewayError) -> Response[str]:
    return problem(
        error.status,
        error.code,
        error.title,
        error.detail,
        errors=error.errors,
        headers=error.headers,
    )
