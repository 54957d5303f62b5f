"""The one error hierarchy. Each error carries its HTTP status, its stable problem `code` and
its `disposition`: what the delivery policy does with a write that failed with it, decided here
once (gateway.delivery.policy acts on it; nobody re-checks the class). `gateway.http.problems`
turns any of them into an RFC 9457 response in one place."""

from __future__ import annotations

from enum import Enum
from typing import Any

# Retryable = timeout, connection error, 408, 425, 429, and every 5xx but 501 (docs/delivery.md).
RETRYABLE_STATUSES = frozenset({408, 425, 429})


class Disposition(Enum):
    """What a failed write becomes (docs/delivery.md, "Dispositions")."""

    # Transient: a first attempt queues the envelope (202); a replay backs off and comes again.
    RETRY = "retry"
    # The vendor asks to slow down: the caller is told (429) while nothing of its request was
    # accepted; a replay, or the rest of a partly accepted request, backs off like RETRY.
    THROTTLED = "throttled"
    # Our credentials were refused: parked on the dead-letter queue with the reason (502).
    PARK = "park"
    # Permanent: the caller is told; a replay is parked as a permanent failure.
    REJECT = "reject"


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or (500 <= status <= 599 and status != 501)


class GatewayError(Exception):
    status: int = 500
    code: str = "INTERNAL_ERROR"
    title: str = "Internal error"
    disposition: Disposition = Disposition.REJECT

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.errors = errors or []
        self.headers = headers or {}


# --- the caller's fault -------------------------------------------------------------------------


class InvalidRequest(GatewayError):
    status = 400
    code = "INVALID_REQUEST"
    title = "Invalid request"


class UnprocessableRequest(GatewayError):
    status = 422
    code = "VALIDATION_FAILED"
    title = "Request validation failed"


class PayloadTooLarge(GatewayError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    title = "Payload too large"


class OriginNotAllowed(GatewayError):
    status = 403
    code = "ORIGIN_NOT_ALLOWED"
    title = "Origin not allowed"


class DestinationNotAllowed(GatewayError):
    status = 403
    code = "DESTINATION_NOT_ALLOWED"
    title = "Destination not allowed"


class UnsupportedMediaType(GatewayError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    title = "Unsupported media type"


class IdempotencyKeyInUse(GatewayError):
    status = 409
    code = "IDEMPOTENCY_KEY_IN_USE"
    title = "Request with this Idempotency-Key in progress"


class IdempotencyKeyReused(GatewayError):
    status = 422
    code = "IDEMPOTENCY_KEY_REUSED"
    title = "Idempotency-Key reused with another request"


class IdempotencyUnavailable(GatewayError):
    status = 503
    code = "IDEMPOTENCY_UNAVAILABLE"
    title = "Service unavailable"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(detail, **kwargs)


# --- ours ---------------------------------------------------------------------------------------


class ConfigurationError(GatewayError):
    status = 500
    code = "CONFIGURATION_ERROR"
    title = "Gateway misconfigured"


class RetryQueueUnavailable(GatewayError):
    """The envelope is not durably queued: the caller must retry (never 202)."""

    status = 503
    code = "RETRY_QUEUE_UNAVAILABLE"
    title = "Service unavailable"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(detail, **kwargs)


# --- the vendor's answer ------------------------------------------------------------------------


class UpstreamError(GatewayError):
    """A vendor call that did not succeed (`upstream_status` None: timeout or connection error)."""

    def __init__(
        self,
        detail: str,
        *,
        vendor: str,
        upstream_status: int | None = None,
        retry_after: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detail, **kwargs)
        self.vendor = vendor
        self.upstream_status = upstream_status
        # The vendor's own Retry-After in seconds (its HTTP-date form is not honoured).
        self.retry_after_seconds = (
            int(retry_after) if retry_after is not None and retry_after.isdigit() else None
        )


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "UPSTREAM_UNAVAILABLE"
    title = "Upstream unavailable"
    disposition = Disposition.RETRY


class UpstreamThrottled(UpstreamError):
    status = 429
    code = "UPSTREAM_THROTTLED"
    title = "Too many requests"
    disposition = Disposition.THROTTLED

    def __init__(self, detail: str, *, retry_after: str = "1", **kwargs: Any) -> None:
        super().__init__(
            detail, headers={"Retry-After": retry_after}, retry_after=retry_after, **kwargs
        )
        self.retry_after = retry_after


class UpstreamAuth(UpstreamError):
    """The vendor rejected our credentials: our configuration's fault, not the caller's."""

    status = 502
    code = "UPSTREAM_AUTH"
    title = "Upstream rejected the gateway's credentials"
    disposition = Disposition.PARK


class UpstreamRejected(UpstreamError):
    """A permanent vendor 4xx. 400/422 keep their status (the caller's input); others are 502."""

    code = "UPSTREAM_REJECTED"
    title = "Upstream rejected the request"

    def __init__(self, detail: str, *, upstream_status: int, **kwargs: Any) -> None:
        kwargs.setdefault("status", upstream_status if upstream_status in (400, 422) else 502)
        super().__init__(detail, upstream_status=upstream_status, **kwargs)
