"""CORS as API Gateway's HTTP API does it, from the template's `HttpApi` CorsConfiguration.

API Gateway answers every preflight (`OPTIONS` with `Access-Control-Request-Method`) itself,
without calling a function, and adds the CORS headers to the function's answers. An allowed
origin is echoed (never `*` when credentials are allowed, a combination API Gateway refuses to
deploy), with `Access-Control-Allow-Credentials: true` when configured and `Vary: Origin`, so a
cache never hands one origin's answer to another. A request from an origin that is not allowed
gets no CORS headers: the browser then blocks the page from reading the answer, and a preflight
without them stops the request from being sent at all."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from devserver.template import Template


@dataclass(frozen=True)
class CorsPolicy:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()  # lower-case, as header names compare
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def __post_init__(self) -> None:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("CorsConfiguration: AllowCredentials cannot be used with origin *")

    @classmethod
    def from_template(cls, template: Template) -> CorsPolicy:
        """The `HttpApi`'s CorsConfiguration with the parameters' defaults; none: no CORS."""
        api = template.resources.get("HttpApi", {}).get("Properties", {})
        config: dict[str, Any] = api.get("CorsConfiguration") or {}

        def value(name: str) -> Any:
            return template.resolve(config.get(name), {})

        max_age = value("MaxAge")
        return cls(
            allow_origins=_names(value("AllowOrigins")),
            allow_methods=tuple(m.upper() for m in _names(value("AllowMethods"))),
            allow_headers=tuple(h.lower() for h in _names(value("AllowHeaders"))),
            expose_headers=_names(value("ExposeHeaders")),
            max_age=int(max_age) if max_age not in (None, "") else None,
            allow_credentials=str(value("AllowCredentials")).lower() == "true",
        )

    def also_allowing(self, origins: Iterable[str]) -> CorsPolicy:
        """The same policy with more allowed origins (the local runtime's own pages)."""
        extra = tuple(o for o in origins if o not in self.allow_origins)
        return replace(self, allow_origins=self.allow_origins + extra)

    def allows(self, origin: str | None) -> bool:
        return bool(origin) and (origin in self.allow_origins or "*" in self.allow_origins)

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """The headers API Gateway adds to a function's answer to a request from `origin`."""
        if not self.allow_origins:
            return {}
        if not self.allows(origin):
            return {"Vary": "Origin"}
        headers = {"Access-Control-Allow-Origin": self._echo(origin), "Vary": "Origin"}
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        if self.expose_headers:
            headers["Access-Control-Expose-Headers"] = ", ".join(self.expose_headers)
        return headers

    def preflight(self, request_headers: Mapping[str, str]) -> dict[str, str]:
        """The headers of API Gateway's 204 answer to a preflight (`request_headers` by
        lower-case name)."""
        origin = request_headers.get("origin")
        headers = self.response_headers(origin)
        if "Access-Control-Allow-Origin" not in headers:
            return headers
        method = (request_headers.get("access-control-request-method") or "").upper()
        requested = [
            h.strip().lower()
            for h in (request_headers.get("access-control-request-headers") or "").split(",")
            if h.strip()
        ]
        # A `*` is not a wildcard to a browser in credentials mode: name what was asked for.
        methods = [method] if "*" in self.allow_methods else list(self.allow_methods)
        allowed_headers = requested if "*" in self.allow_headers else list(self.allow_headers)
        headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        if allowed_headers:
            headers["Access-Control-Allow-Headers"] = ", ".join(allowed_headers)
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.max_age)
        return headers

    def _echo(self, origin: str | None) -> str:
        # `*` only stands for itself without credentials (refused together, above).
        return str(origin) if origin in self.allow_origins else "*"


def _names(value: Any) -> tuple[str, ...]:
    """A template list, or a CommaDelimitedList parameter's comma-separated default."""
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())
