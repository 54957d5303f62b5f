"""SQS I/O for retries: enqueue an envelope on RetryQueue, park a message on DeadLetterQueue with
its reason, and push a message's visibility out for backoff."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.aws import creating_client
from gateway.envelope import Envelope
from gateway.errors import ConfigurationError, RetryQueueUnavailable
from gateway.observability import logger, metrics
from gateway.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS's own limit (1 MiB since 2025): an envelope above it cannot be queued, so it is a 503.
MAX_MESSAGE_BYTES = 1_048_576


@cache
def _sqs() -> SQSClient:
    # Short timeouts and few retries: a 202 must be answered (or refused) within the deadline.
    config = Config(
        connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
    )
    with creating_client():
        return boto3.client("sqs", config=config)


def _queue_url(url: str | None, setting: str) -> str:
    if not url:
        raise ConfigurationError(f"{setting} is not configured", code="QUEUE_NOT_CONFIGURED")
    return url


def enqueue(envelope: Envelope) -> None:
    """Put the envelope on RetryQueue durably, or raise `RetryQueueUnavailable`."""
    body = envelope.to_json()
    if len(body.encode()) > MAX_MESSAGE_BYTES:
        raise RetryQueueUnavailable(
            "the write failed upstream and is too large to queue for retry; retry it later",
            code="RETRY_ENVELOPE_TOO_LARGE",
        )
    url = _queue_url(get_settings().retry_queue_url, "RETRY_QUEUE_URL")
    try:
        _sqs().send_message(QueueUrl=url, MessageBody=body)
    except (BotoCoreError, ClientError) as exc:
        logger.error(
            "could not enqueue retry envelope",
            extra={
                "retry_id": envelope.id,
                "kind": envelope.kind,
                "error_type": type(exc).__name__,
            },
        )
        raise RetryQueueUnavailable(
            "the write failed upstream and could not be queued for retry; retry it later"
        ) from exc
    metrics.add_metric(name="Queued", unit="Count", value=1)
    logger.info("write queued for retry", extra={"retry_id": envelope.id, "kind": envelope.kind})


def park(body: str, reason: str, *, retry_id: str | None = None) -> None:
    """Send a message to DeadLetterQueue with the reason it cannot be delivered."""
    url = _queue_url(get_settings().dead_letter_queue_url, "DEAD_LETTER_QUEUE_URL")
    try:
        _sqs().send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1024]}},
        )
    except (BotoCoreError, ClientError) as exc:
        raise RetryQueueUnavailable("could not park the message on the dead-letter queue") from exc
    metrics.add_metric(name="DeadLettered", unit="Count", value=1)
    logger.warning(
        "message parked on the dead-letter queue", extra={"retry_id": retry_id, "reason": reason}
    )


def delay(receipt_handle: str, seconds: int) -> None:
    """Hide a received RetryQueue message for `seconds` (SQS's ChangeMessageVisibility)."""
    url = _queue_url(get_settings().retry_queue_url, "RETRY_QUEUE_URL")
    _sqs().change_message_visibility(
        QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
    )
