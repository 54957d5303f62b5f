"""The edge checks every route makes before its handler runs: the caller's browser origin and
the body's media type (docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from gateway.core.errors import OriginNotAllowed, UnsupportedMediaType
from gateway.core.settings import split_list

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from gateway.context import Context

Middleware = Callable[["APIGatewayHttpResolver", NextMiddleware], Response[str]]


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or any `+json` type (TD's `application/vnd.treasuredata.v1+json`):
    a cross-site form or `text/plain` post, which a browser sends without a preflight, is not."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


@lru_cache(maxsize=8)
def _origins(setting: str) -> frozenset[str]:
    return frozenset(split_list(setting))  # split once per process, not on every request


def edge_checks(context: Callable[[], Context]) -> Middleware:
    def check(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
        headers = app.current_event.headers
        origin = headers.get("origin")
        if origin is not None and origin not in _origins(context().settings.allowed_origins):
            raise OriginNotAllowed(f"origin {origin[:200]!r} may not call this API")
        body_bearing = app.current_event.http_method in ("POST", "PUT", "PATCH")
        if body_bearing and not is_json_media_type(headers.get("content-type")):
            raise UnsupportedMediaType(
                "the body must be JSON: Content-Type application/json or a +json type"
            )
        return next_middleware(app)

    return check
