"""The delivery policy: what happens to every write, on its first attempt and on each replay.

One path for all of them (postback, personalization ingestion, opt-out, each content chunk, and
the retry function's replay): send; on refused credentials read the secret again and repeat
once; then act on the failure's `Disposition`, decided once on the error (gateway.core.errors):
- RETRY: a first attempt queues the envelope (202); a replay backs off until its receives run out;
- THROTTLED: the caller is told (429) while nothing of its request was accepted; otherwise as RETRY;
- PARK: parked on the dead-letter queue with the reason (502), first attempt and replay alike;
- REJECT: the caller is told; a replay is parked as a permanent failure.
Idempotency (per caller `Idempotency-Key`, per envelope id) and the Delivered, Queued and
DeadLettered metrics live here too. docs/delivery.md walks through it."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from gateway.core.envelope import (
    ENVELOPE_SCOPE,
    ChunkRequest,
    Envelope,
    OrderedRequest,
    WriteRequest,
)
from gateway.core.errors import (
    Disposition,
    GatewayError,
    IdempotencyKeyInUse,
    IdempotencyUnavailable,
    RetryQueueUnavailable,
    UpstreamError,
)
from gateway.core.observability import logger, metrics
from gateway.core.outcome import ChunkStatus, Fate, Outcome, Queued, VendorResponse

if TYPE_CHECKING:
    from gateway.context import Context
    from gateway.core.settings import Settings


class MalformedEnvelope(Exception):
    """An envelope no delivery can replay: unknown kind, or a request failing validation."""


class Expired(Exception):
    """A replay that would no longer land as it was accepted (e.g. re-timed by the vendor)."""


class CircuitOpen(Exception):
    """The vendor failed too often in a row: its replays wait without calling it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"circuit open for {seconds:.0f} s more")
        self.seconds = seconds


class RetryLater(Exception):
    """A replay to come again after its backoff (the batch reports it in batchItemFailures)."""


# --- sending ------------------------------------------------------------------------------------


def _send(
    context: Context, request: WriteRequest, *, inline_retry_delay: float | None = None
) -> VendorResponse:
    """The vendor call, repeated once with the secret read again (bypassing its cache) when the
    vendor refuses our credentials, so that a rotated key never parks a write; and, for a write
    whose caller waits for the answer, once after `inline_retry_delay` on a transient failure
    (whichever comes first: an in-line retry that meets a rotated key reads it again too)."""
    fresh = retried = False
    while True:
        try:
            response = request.send(context, fresh_credentials=fresh)
            break
        except UpstreamError as exc:
            if exc.disposition is Disposition.PARK and not fresh:
                fresh = True
                logger.info(
                    "credentials refused; reading the secret again", extra={"kind": request.kind}
                )
            elif (
                exc.disposition is Disposition.RETRY
                and inline_retry_delay is not None
                and not retried
            ):
                retried = True
                logger.info(
                    "write failed; retrying once in line",
                    extra={"code": exc.code, "upstream_status": exc.upstream_status},
                )
                time.sleep(inline_retry_delay)
            else:
                raise
    metrics.add_metric(name="Delivered", unit="Count", value=1)
    logger.debug("write delivered", extra={"kind": request.kind, "status": response.status})
    return response


def _queue(context: Context, request: WriteRequest, error: GatewayError) -> Queued:
    """The write's envelope durably on RetryQueue, or `RetryQueueUnavailable` (never a 202):
    accepted, so recorded in its keys' order."""
    envelope = Envelope.for_failure(request.kind, request.model_dump(mode="json"), error)
    context.retry_queue.enqueue(envelope)
    metrics.add_metric(name="Queued", unit="Count", value=1)
    _record_order(context, request)
    return Queued(envelope.id, error=error)


def _park(context: Context, envelope: Envelope, reason: str) -> None:
    _park_body(context, envelope.to_json(), reason, retry_id=envelope.id)


def _park_body(context: Context, body: str, reason: str, *, retry_id: str | None = None) -> None:
    context.retry_queue.park(body, reason, retry_id=retry_id)
    metrics.add_metric(name="DeadLettered", unit="Count", value=1)


def _park_reason(error: UpstreamError) -> str:
    if error.disposition is Disposition.PARK:
        return f"upstream rejected credentials: {error.detail}"
    return f"permanent failure: {error.detail}"


def _record_order(context: Context, accepted: WriteRequest) -> None:
    """Once a write is accepted (delivered or queued, never before: a refused write must not
    overtake an accepted one), an ordered write is recorded as its keys' last accepted write
    (one AWS call). Should the state table fail, the write stands unordered, logged and
    counted."""
    if not isinstance(accepted, OrderedRequest) or accepted.sequence is None:
        return
    if not context.delivery_state.enabled:
        return
    try:
        context.delivery_state.accept(accepted.kind, accepted.ordering_keys(), accepted.sequence)
    except Exception as exc:
        metrics.add_metric(name="OrderingUnavailable", unit="Count", value=1)
        logger.warning("ordering state not written", extra={"error_type": type(exc).__name__})


def _first_attempt(
    context: Context,
    request: WriteRequest,
    *,
    accepted_before: bool = False,
    inline_retry_delay: float | None = None,
    sequence: int | None = None,
) -> Outcome:
    request = request.on_acceptance(context, sequence or time.time_ns())
    try:
        response = _send(context, request, inline_retry_delay=inline_retry_delay)
    except UpstreamError as exc:
        disposition = exc.disposition
        if disposition is Disposition.RETRY or (
            disposition is Disposition.THROTTLED and accepted_before
        ):
            return _queue(context, request, exc)
        if disposition is Disposition.PARK:
            envelope = Envelope.for_failure(request.kind, request.model_dump(mode="json"), exc)
            _park(context, envelope, _park_reason(exc))
        raise
    _record_order(context, request)
    return response


# --- a caller's write ---------------------------------------------------------------------------


def _once_per_key(
    context: Context,
    scope: str,
    key: str | None,
    caller: str | None,
    payload: Callable[[], Any],
    deliver: Callable[[], Outcome],
) -> Outcome:
    """`deliver()`, or with an `Idempotency-Key` the first answer to the same key: the key is
    the caller's own where the caller has an identity (one caller never meets another's).
    `payload()` is what a repeat of the key must match (dumped only when there is a key)."""
    if key is None:
        return deliver()
    scoped = key if caller is None else f"{caller} {key}"
    from gateway.aws.idempotency import InProgress

    try:
        return context.idempotency.once(f"key:{scope}", scoped, payload(), deliver)
    except InProgress:
        raise IdempotencyKeyInUse(
            "a request with this Idempotency-Key is still in progress; retry it shortly",
            headers={"Retry-After": "1"},
        ) from None


def submit(
    context: Context,
    request: WriteRequest,
    *,
    idempotency_key: str | None = None,
    caller: str | None = None,
    inline_retry_delay: float | None = None,
) -> Outcome:
    """Deliver a caller's write: the vendor's answer, or `Queued` (202). Raises the error the
    caller is to be told (after parking, for refused credentials)."""
    return _once_per_key(
        context,
        request.kind,
        idempotency_key,
        caller,
        lambda: request.model_dump(mode="json"),
        lambda: _first_attempt(context, request, inline_retry_delay=inline_retry_delay),
    )


C = TypeVar("C", bound=ChunkRequest)


def submit_chunks(
    context: Context,
    chunks: Sequence[C],
    summarize: Callable[[list[tuple[C, Fate]]], VendorResponse],
    *,
    idempotency_key: str | None = None,
    caller: str | None = None,
) -> Outcome:
    """Deliver the chunks in order, each by the policy above. After a transient failure the
    failed chunk and every later one are queued (202); a 429 goes back to the caller only while
    no chunk was accepted (repeating the whole array would send accepted chunks twice); refused
    credentials park every chunk not yet accepted. An error raised to the caller lists every
    chunk's fate in its `errors`, so that the caller resends only the rest."""

    def deliver() -> Outcome:
        fates: list[tuple[C, Fate]] = []
        sequence = time.time_ns()  # the whole request is one write: its chunks share it
        for position, chunk in enumerate(chunks):
            try:
                outcome = _first_attempt(
                    context, chunk, accepted_before=bool(fates), sequence=sequence
                )
            except UpstreamError as exc:
                _raise_with_fates(context, exc, fates, chunks[position], chunks[position + 1 :])
            except RetryQueueUnavailable as exc:  # nothing from this chunk on is queued
                _raise_with_fates(context, exc, fates, None, chunks[position:], "not_queued")
            if isinstance(outcome, Queued):
                fates.append((chunk, Fate("queued", retry_id=outcome.retry_id)))
                for position_later, later in enumerate(chunks[position + 1 :], position + 1):
                    error = outcome.error or GatewayError("queued after an earlier chunk")
                    try:
                        accepted = later.on_acceptance(context, sequence)
                        queued = _queue(context, accepted, error)
                    except RetryQueueUnavailable as exc:
                        _raise_with_fates(
                            context, exc, fates, None, chunks[position_later:], "not_queued"
                        )
                    fates.append((later, Fate("queued", retry_id=queued.retry_id)))
                break
            fates.append((chunk, Fate("accepted", response=outcome)))
        return summarize(fates)

    def payload() -> list[Any]:
        return [chunk.model_dump(mode="json") for chunk in chunks]

    return _once_per_key(context, chunks[0].kind, idempotency_key, caller, payload, deliver)


def _raise_with_fates(
    context: Context,
    error: GatewayError,
    fates: Sequence[tuple[ChunkRequest, Fate]],
    failed: ChunkRequest | None,
    pending: Sequence[ChunkRequest],
    pending_status: ChunkStatus = "not_sent",
) -> Any:
    """Raise `error` with every chunk's fate. A chunk refused for our credentials was parked by
    its attempt; the ones after it are parked too (they would meet the same refusal)."""
    entries = [chunk.fate_entry(fate) for chunk, fate in fates]
    if (
        failed is not None
        and isinstance(error, UpstreamError)
        and error.disposition is Disposition.PARK
    ):
        entries.append(failed.fate_entry(Fate("parked")))
        for chunk in pending:
            envelope = Envelope.for_failure(chunk.kind, chunk.model_dump(mode="json"), error)
            _park(context, envelope, _park_reason(error))
            entries.append(chunk.fate_entry(Fate("parked")))
    else:
        if failed is not None:
            entries.append(failed.fate_entry(Fate("failed")))
        entries.extend(chunk.fate_entry(Fate(pending_status)) for chunk in pending)
    error.errors = [*error.errors, *entries]
    raise error


# --- the retry function's replay ----------------------------------------------------------------


def request_classes() -> dict[str, type[WriteRequest]]:
    """The replay table: each write request class under its own `kind`."""
    from gateway.vendors.richrelevance.content import ContentRequest
    from gateway.vendors.richrelevance.profile import OptOutRequest
    from gateway.vendors.td.ingest import IngestRequest
    from gateway.vendors.td.personalization import PersonalizationRequest
    from gateway.vendors.td.postback import PostbackRequest

    classes: tuple[type[WriteRequest], ...] = (
        PostbackRequest,
        IngestRequest,
        PersonalizationRequest,
        OptOutRequest,
        ContentRequest,
    )
    return {cls.kind: cls for cls in classes}


def _request_of(envelope: Envelope) -> WriteRequest:
    model = request_classes().get(envelope.kind)
    if model is None:
        raise MalformedEnvelope(f"no delivery for kind {envelope.kind!r}")
    try:
        return model.model_validate(envelope.request)
    except ValidationError as exc:
        raise MalformedEnvelope(f"{envelope.kind} request is invalid at: {_where(exc)}") from None
    except GatewayError as exc:
        raise MalformedEnvelope(f"{envelope.kind} request is invalid: {exc.detail}") from None


def _where(exc: ValidationError) -> str:
    return ", ".join(sorted({".".join(map(str, e["loc"])) or "(root)" for e in exc.errors()}))


def _not_overtaken(context: Context, request: WriteRequest) -> WriteRequest | None:
    """The part of an ordered write that no later accepted write has overtaken (None: none).
    Should the state table fail, the whole write is sent."""
    if (
        not isinstance(request, OrderedRequest)
        or request.sequence is None
        or not context.delivery_state.enabled
    ):
        return request
    try:
        overtaken = context.delivery_state.overtaken(
            request.kind, request.ordering_keys(), request.sequence
        )
    except Exception as exc:
        logger.warning("ordering state unreadable", extra={"error_type": type(exc).__name__})
        return request
    return request.without(overtaken) if overtaken else request


def _replay_once(context: Context, envelope: Envelope) -> tuple[str, dict[str, Any]]:
    """Send the envelope's write unless an earlier receive of it was delivered (SQS delivers at
    least once) or later accepted writes overtook it; returns what happened and the write's
    receipt when this call delivered it. Raises
    `InProgress` while another receive of it is being delivered. Without the idempotency
    table, or when it fails, it is sent: a duplicate is better than a write lost."""
    request = _request_of(envelope)
    expired = request.expired(time.time())
    if expired is not None:
        raise Expired(expired)
    current = _not_overtaken(context, request)
    if current is None:
        metrics.add_metric(name="Superseded", unit="Count", value=1)
        return "superseded by a later accepted write: acknowledged without a call", {}
    receipt: dict[str, Any] = {}

    def send() -> VendorResponse:
        response = _send_watched(context, current)
        receipt.update(current.receipt(response))
        return response

    if not context.idempotency.enabled:
        send()
        return "retry delivered", receipt
    try:
        outcome = context.idempotency.once(
            ENVELOPE_SCOPE, envelope.id, {"kind": envelope.kind, "request": envelope.request}, send
        )
    except IdempotencyUnavailable:
        send()
        return "retry delivered", receipt
    return ("already delivered: skipped" if outcome.replayed else "retry delivered"), receipt


def _send_watched(context: Context, request: WriteRequest) -> VendorResponse:
    """A replay's call under the vendor's circuit, shared by every invocation: after
    CIRCUIT_FAILURES retryable failures in a row the vendor's replays back off without calling
    it; when the open period is over, one replay probes it, and its success closes the
    circuit. Without the state table, a plain call."""
    state = context.delivery_state
    if not state.enabled:
        return _send(context, request)
    settings = context.settings
    circuit = state.circuit(request.vendor)
    now = time.time()
    if circuit.is_open(now):
        raise CircuitOpen(circuit.open_until - now)
    if circuit.probing and not state.claim_probe(
        request.vendor, circuit, open_seconds=settings.circuit_open_seconds
    ):
        raise CircuitOpen(settings.circuit_open_seconds)  # another invocation is probing
    try:
        response = _send(context, request)
    except UpstreamError as exc:
        if exc.disposition in (Disposition.RETRY, Disposition.THROTTLED):
            state.record_failure(
                request.vendor,
                threshold=settings.circuit_failures,
                open_seconds=settings.circuit_open_seconds,
            )
        raise
    if circuit.failures or circuit.probing:
        state.record_success(request.vendor)
    return response


def backoff_seconds(
    settings: Settings, receive_count: int, *, rng: random.Random | None = None
) -> int:
    """Exponential backoff with jitter: about base * 2^(n-1), capped, never below 80% of it."""
    exponent = min(max(receive_count, 1) - 1, 20)
    ceiling = min(
        settings.retry_backoff_base_seconds * 2**exponent, settings.retry_backoff_max_seconds
    )
    return int(ceiling * (rng or random).uniform(0.8, 1.0))


@contextmanager
def ordering_read_ahead(context: Context, bodies: Sequence[str]) -> Iterator[None]:
    """For the retry function's batch: the ordering state of every ordered envelope in it read
    in one call before the replays start (instead of one read per envelope), used by
    `replay` for the length of the batch. An envelope that does not parse is left to `replay`
    (which parks it); should the read fail, each replay reads for itself."""
    wanted = []
    ordered = {kind for kind, cls in request_classes().items() if issubclass(cls, OrderedRequest)}
    for body in bodies:
        try:
            if json.loads(body).get("kind") not in ordered:
                continue
            request = _request_of(Envelope.model_validate_json(body))
        except (ValueError, AttributeError, MalformedEnvelope):
            continue
        if isinstance(request, OrderedRequest) and request.sequence is not None:
            wanted.append((request.kind, request.ordering_keys()))
    state = context.delivery_state
    if wanted and state.enabled:
        try:
            state.prefetch(wanted)
        except Exception as exc:
            logger.warning("ordering state unreadable", extra={"error_type": type(exc).__name__})
    try:
        yield
    finally:
        if state.enabled:
            state.forget_prefetched()


def replay(context: Context, body: str, *, receive_count: int, receipt_handle: str) -> None:
    """The retry function's work on one SQS message. When it returns, the message is done with
    (delivered or parked) and the event source mapping deletes it with the batch; `RetryLater`
    leaves it on the queue, hidden for the backoff. Should the invocation die mid-batch, the
    whole batch comes back and the idempotency records skip what was delivered."""
    # Taking part from its start: the batch's first item to finish waits for this one's record
    # (one write for the batch) unless this one ends without a delivery.
    with context.idempotency.taking_part(ENVELOPE_SCOPE):
        _replay(context, body, receive_count=receive_count, receipt_handle=receipt_handle)


def _replay(context: Context, body: str, *, receive_count: int, receipt_handle: str) -> None:
    from gateway.aws.idempotency import InProgress

    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as exc:
        _park_body(context, body, f"malformed envelope: invalid at {_where(exc)}")
        return
    attempt = envelope.attempt + receive_count
    logger.thread_safe_append_keys(retry_id=envelope.id, kind=envelope.kind, attempt=attempt)
    try:
        what, receipt = _replay_once(context, envelope)
    except InProgress:
        _back_off(context, receipt_handle, receive_count)
        raise RetryLater("the same envelope is being delivered by another invocation") from None
    except CircuitOpen as exc:
        if receive_count >= context.settings.retry_max_receives:
            reason = f"retries exhausted after {attempt} attempts: {exc}"
            _park_body(context, body, reason, retry_id=envelope.id)
        else:
            _back_off(context, receipt_handle, receive_count, int(exc.seconds) + 1)
            raise RetryLater(str(exc)) from None
    except MalformedEnvelope as exc:
        _park_body(context, body, f"malformed envelope: {exc}", retry_id=envelope.id)
    except Expired as exc:
        _park_body(context, body, str(exc), retry_id=envelope.id)
    except UpstreamError as exc:
        if exc.disposition in (Disposition.PARK, Disposition.REJECT):
            _park(context, envelope.after(exc, attempt), _park_reason(exc))
        elif receive_count >= context.settings.retry_max_receives:
            reason = f"retries exhausted after {attempt} attempts: {exc.detail}"
            _park(context, envelope.after(exc, attempt), reason)
        else:
            _back_off(context, receipt_handle, receive_count, exc.retry_after_seconds)
            raise RetryLater(exc.detail) from exc
    else:
        logger.info(what, extra=receipt)
    finally:
        logger.thread_safe_remove_keys(["retry_id", "kind", "attempt"])


def _back_off(
    context: Context, receipt_handle: str, receive_count: int, retry_after: int | None = None
) -> None:
    """Hide the message for the backoff, or for the vendor's Retry-After when that is longer
    (within SQS's 12 hours)."""
    seconds = min(max(backoff_seconds(context.settings, receive_count), retry_after or 0), 43_200)
    try:
        context.retry_queue.delay(receipt_handle, seconds)
    except Exception as exc:  # the message still comes back after the queue's visibility timeout
        logger.warning("could not extend visibility", extra={"error_type": type(exc).__name__})
