"""The retry function's work on one SQS message: replay the envelope, or back off, or park it."""

from __future__ import annotations

import random

from pydantic import ValidationError

from gateway import idempotency, retry_queue, writes
from gateway.envelope import Envelope
from gateway.errors import UpstreamAuth, UpstreamError
from gateway.observability import logger
from gateway.settings import get_settings


class RetryLater(Exception):
    """Raised so that the batch processor reports the item in `batchItemFailures`."""


def backoff_seconds(receive_count: int, *, rng: random.Random | None = None) -> int:
    """Exponential backoff with jitter: about base * 2^(n-1), capped, never below 80% of it."""
    settings = get_settings()
    exponent = min(max(receive_count, 1) - 1, 20)
    ceiling = min(
        settings.retry_backoff_base_seconds * 2**exponent, settings.retry_backoff_max_seconds
    )
    return int(ceiling * (rng or random).uniform(0.8, 1.0))


def handle_message(body: str, *, receive_count: int, receipt_handle: str) -> None:
    """Replay one message. When it returns, the message is done with (delivered or parked) and
    the event source mapping deletes it with the batch; `RetryLater` leaves it on the queue,
    hidden for the backoff. Should the invocation die mid-batch, the whole batch comes back,
    and the idempotency record skips what was already delivered (one AWS call per item fewer
    than deleting each finished message at once: benchmarks/REPORT.md, retry drain)."""
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as exc:
        where = ", ".join(sorted({".".join(map(str, e["loc"])) or "(root)" for e in exc.errors()}))
        retry_queue.park(body, f"malformed envelope: invalid at {where}")
        return
    logger.thread_safe_append_keys(
        retry_id=envelope.id, kind=envelope.kind, attempt=envelope.attempt + receive_count
    )
    try:
        delivered = writes.resend_once(envelope)
    except idempotency.InProgress:
        # Another receive of this envelope is being delivered: look again after a backoff.
        _back_off(receipt_handle, receive_count)
        raise RetryLater("the same envelope is being delivered by another invocation") from None
    except writes.MalformedEnvelope as exc:
        retry_queue.park(body, f"malformed envelope: {exc}", retry_id=envelope.id)
    except UpstreamAuth as exc:
        writes.park_for_credentials(envelope.after(exc, envelope.attempt + receive_count), exc)
    except UpstreamError as exc:
        attempt = envelope.attempt + receive_count
        if not exc.retryable:
            retry_queue.park(
                envelope.after(exc, attempt).to_json(),
                f"permanent failure: {exc.detail}",
                retry_id=envelope.id,
            )
        elif receive_count >= get_settings().retry_max_receives:
            retry_queue.park(
                envelope.after(exc, attempt).to_json(),
                f"retries exhausted after {attempt} attempts: {exc.detail}",
                retry_id=envelope.id,
            )
        else:
            _back_off(receipt_handle, receive_count)
            raise RetryLater(exc.detail) from exc
    else:
        logger.info("retry delivered" if delivered else "already delivered: skipped")
    finally:
        logger.thread_safe_remove_keys(["retry_id", "kind", "attempt"])


def _back_off(receipt_handle: str, receive_count: int) -> None:
    seconds = backoff_seconds(receive_count)
    try:
        retry_queue.delay(receipt_handle, seconds)
    except Exception as exc:  # the message still comes back after the queue's visibility timeout
        logger.warning("could not extend visibility", extra={"error_type": type(exc).__name__})
