"""Delivering writes: call the vendor; on a retryable failure queue an envelope (202), on rejected
credentials park it on the DLQ (502). `resend` replays an envelope through the very same client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from gateway import idempotency, retry_queue
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


def _deliveries() -> dict[str, Delivery]:
    # The dispatch table by envelope kind: a new write kind is one line here.
    from gateway import rr_content, rr_profile, td_personalization, td_postback

    return {
        td_postback.PostbackRequest.kind: Delivery(td_postback.PostbackRequest, td_postback.send),
        td_personalization.PersonalizationRequest.kind: Delivery(
            td_personalization.PersonalizationRequest, td_personalization.send
        ),
        rr_profile.OptOutRequest.kind: Delivery(rr_profile.OptOutRequest, rr_profile.send),
        rr_content.ContentRequest.kind: Delivery(rr_content.ContentRequest, rr_content.send),
    }


class MalformedEnvelope(Exception):
    """An envelope no delivery can replay: unknown kind, or a request failing validation."""


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
    delivery = _deliveries()[request.kind]
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
    envelope = Envelope.for_failure(request.kind, request.model_dump(mode="json"), error)
    retry_queue.enqueue(envelope)
    return envelope.id


def resend_once(envelope: Envelope) -> bool:
    """Replay the envelope unless an earlier receive of it was delivered (SQS delivers at least
    once); returns False when it was. Raises `idempotency.InProgress` while another receive of
    it is being delivered. Without the idempotency table, or when it fails, it is delivered:
    a duplicate is better than a write lost."""
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
    retry_queue.park(
        envelope.to_json(), f"upstream rejected credentials: {error.detail}", retry_id=envelope.id
    )


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
