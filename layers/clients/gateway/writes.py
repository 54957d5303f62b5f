"""Delivering writes: call the vendor; on a retryable failure queue an envelope (202), on rejected
credentials park it on the DLQ (502). `resend` replays an envelope through the very same client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gateway import retry_queue
from gateway.envelope import Envelope, WriteRequest
from gateway.errors import GatewayError, UpstreamAuth, UpstreamError, UpstreamThrottled
from gateway.observability import metrics
from gateway.vendor_response import Queued, VendorResponse


@dataclass(frozen=True)
class Delivery:
    model: type[WriteRequest]
    send: Callable[[Any], VendorResponse]


def _deliveries() -> dict[str, Delivery]:
    # The dispatch table by envelope kind: a new write kind is one line here.
    from gateway import td_personalization, td_postback

    return {
        td_postback.PostbackRequest.kind: Delivery(td_postback.PostbackRequest, td_postback.send),
        td_personalization.PersonalizationRequest.kind: Delivery(
            td_personalization.PersonalizationRequest, td_personalization.send
        ),
    }


class MalformedEnvelope(Exception):
    """An envelope no delivery can replay: unknown kind, or a request failing validation."""


def submit(
    request: WriteRequest, *, send: Callable[[Any], VendorResponse] | None = None
) -> VendorResponse | Queued:
    """`send` replaces the delivery's own call for this first attempt (e.g. with an in-line
    retry); replays always use the delivery's."""
    delivery = _deliveries()[request.kind]
    try:
        response = (send or delivery.send)(request)
    except UpstreamError as exc:
        if exc.retryable and not isinstance(exc, UpstreamThrottled):
            return Queued(queue_for_retry(request, exc), exc)
        if isinstance(exc, UpstreamAuth):
            envelope = Envelope.for_failure(request.kind, request.model_dump(mode="json"), exc)
            retry_queue.park(
                envelope.to_json(),
                f"upstream rejected credentials: {exc.detail}",
                retry_id=envelope.id,
            )
        raise
    metrics.add_metric(name="Delivered", unit="Count", value=1)
    return response


def queue_for_retry(request: WriteRequest, error: GatewayError) -> str:
    """Put the write on RetryQueue; returns the envelope id. Raises `RetryQueueUnavailable`."""
    envelope = Envelope.for_failure(request.kind, request.model_dump(mode="json"), error)
    retry_queue.enqueue(envelope)
    return envelope.id


def resend(envelope: Envelope) -> VendorResponse:
    delivery = _deliveries().get(envelope.kind)
    if delivery is None:
        raise MalformedEnvelope(f"no delivery for kind {envelope.kind!r}")
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
