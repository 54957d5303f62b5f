"""What a vendor answered, kept as-is so that handlers can pass it through."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from gateway.errors import GatewayError


@dataclass(frozen=True)
class VendorResponse:
    status: int
    body: str
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False  # the saved answer to an earlier request with the same Idempotency-Key

    @classmethod
    def of(
        cls, response: requests.Response, *, keep_headers: tuple[str, ...] = ()
    ) -> VendorResponse:
        kept = {name: response.headers[name] for name in keep_headers if name in response.headers}
        return cls(
            status=response.status_code,
            body=response.text,
            content_type=response.headers.get("Content-Type"),
            headers=kept,
        )


@dataclass(frozen=True)
class Queued:
    """The write failed retryably and its envelope is durably on RetryQueue."""

    retry_id: str
    replayed: bool = False
    error: GatewayError | None = None  # the failure that queued it (for callers answering 503)
