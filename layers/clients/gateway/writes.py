"""Delivering writes: call the vendor; on a retryable failure queue an envelope (202), on rejected
credentials park it on the DLQ (502). `resend` replays an envelope through the very same client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from pydantic import ValidationError

# idempotency and retry_queue are imported where used: a write without an Idempotency-Key that
# the vendor accepts needs neither (nor Powertools Idempotency, nor an SQS client) at cold start.
from gateway.envelope import Envelope, WriteRequest
from gateway.errors import (
    GatewayError,
    IdempotencyUnavailable,
    UpstreamAuth,
    UpstreamError,
    UpstreamThrottled,
)
from gateway.observability import metrics
from gateway.vendor_response import Queued, VendorResponse


@dataclass(frozen=True)
class Delivery:
    model: type[WriteRequest]
    send: Callable[[Any], VendorResponse]


# The dispatch table by envelope kind: the module and request model of each delivery (a new write
# kind is one line here). A module is imported when its kind is first delivered, so that a
# function loads only its own vendor's clients.
_DELIVERIES: dict[str, tuple[str, str]] = {
    "td.postback": ("gateway.td_postback", "PostbackRequest"),
    "td.personalization": ("gateway.td_personalization", "PersonalizationRequest"),
    "rr.opt_out": ("gateway.rr_profile", "OptOutRequest"),
    "rr.content": ("gateway.rr_content", "ContentRequest"),
}


class MalformedEnvelope(Exception):
    """An envelope no delivery can replay: unknown kind, or a request failing validation."""


def _delivery(kind: str) -> Delivery:
    where = _DELIVERIES.get(kind)
    if where is None:
        raise MalformedEnvelope(f"no delivery for kind {kind!r}")
    module = import_module(where[0])
    model: type[WriteRequest] = getattr(module, where[1])
    return Delivery(model, module.send)


def submit(
    request: WriteRequest,
    *,
    idempotency_key: str | None = None,
    send: Callable[[Any], VendorResponse] | None = None,
) -> VendorResponse | Queued:
    """Deliver the write. With an `Idempotency-Key`, a repeat of the same request gets the first
    answer (200 or 202) back instead of a second delivery. `send` replaces the delivery's own
    call for this first attempt (e.g. with an in-line retry); replays always use the delivery's."""
    if idempotency_key is None:
        return _submit(request, send)
    from gateway import idempotency

    saved, replayed = idempotency.once_per_key(
        request.kind,
        idempotency_key,
        request.model_dump(mode="json"),
        lambda: _answer_to_dict(_submit(request, send)),
    )
    return _answer_from_dict(saved, replayed=replayed)


def _answer_to_dict(answer: VendorResponse | Queued) -> dict[str, Any]:
    fields = {f.name: getattr(answer, f.name) for f in dataclasses.fields(answer)}
    fields.pop("error", None)  # the failure that queued it is not part of the saved answer
    return {"type": type(answer).__name__, **fields}


def _answer_from_dict(saved: dict[str, Any], *, replayed: bool) -> VendorResponse | Queued:
    fields = {k: v for k, v in saved.items() if k != "type"} | {"replayed": replayed}
    return Queued(**fields) if saved["type"] == "Queued" else VendorResponse(**fields)


def _submit(
    request: WriteRequest, send: Callable[[Any], VendorResponse] | None
) -> VendorResponse | Queued:
    delivery = _delivery(request.kind)
    try:
        response = (send or delivery.send)(request)
    except UpstreamError as exc:
        if exc.retryable and not isinstance(exc, UpstreamThrottled):
            return Queued(queue_for_retry(request, exc), error=exc)
        if isinstance(exc, UpstreamAuth):
            park_for_credentials(
                Envelope.for_failure(request.kind, request.model_dump(mode="json"), exc), exc
            )
        raise
    metrics.add_metric(name="Delivered", unit="Count", value=1)
    return response


def queue_for_retry(request: WriteRequest, error: GatewayError) -> str:
    """Put the write on RetryQueue; returns the envelope id. Raises `RetryQueueUnavailable`."""
    from gateway import retry_queue

    envelope = Envelope.for_failure(request.kind, request.model_dump(mode="json"), error)
    retry_queue.enqueue(envelope)
    return envelope.id


def resend_once(envelope: Envelope) -> bool:
    """Replay the envelope unless an earlier receive of it was delivered (SQS delivers at least
    once); returns False when it was. Raises `idempotency.InProgress` while another receive of
    it is being delivered. Without the idempotency table, or when it fails, it is delivered:
    a duplicate is better than a write lost."""
    from gateway import idempotency

    if not idempotency.enabled():
        resend(envelope)
        return True
    try:
        _, replayed = idempotency.once(
            "envelope",
            envelope.id,
            {"kind": envelope.kind, "request": envelope.request},
            lambda: _answer_to_dict(resend(envelope)),
        )
    except IdempotencyUnavailable:
        resend(envelope)
        return True
    return not replayed


def park_for_credentials(envelope: Envelope, error: UpstreamAuth) -> None:
    """Credentials the vendor refuses do not get better with retries: park the write on the DLQ
    with the reason, for redrive once the secret is fixed."""
    from gateway import retry_queue

    retry_queue.park(
        envelope.to_json(), f"upstream rejected credentials: {error.detail}", retry_id=envelope.id
    )


def resend(envelope: Envelope) -> VendorResponse:
    delivery = _delivery(envelope.kind)
    try:
        request = delivery.model.model_validate(envelope.request)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(map(str, e["loc"])) or "(root)" for e in exc.errors()}))
        raise MalformedEnvelope(f"{envelope.kind} request is invalid at: {fields}") from None
    except GatewayError as exc:
        raise MalformedEnvelope(f"{envelope.kind} request is invalid: {exc.detail}") from None
    response = delivery.send(request)
    metrics.add_metric(name="Delivered", unit="Count", value=1)
    return response
