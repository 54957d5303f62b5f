"""SQS I/O for retries: enqueue an envelope on RetryQueue, park a message on DeadLetterQueue with
its reason, and push a message's visibility out for backoff."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.core.envelope import Envelope
from gateway.core.errors import ConfigurationError, RetryQueueUnavailable
from gateway.core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from gateway.context import Context

# SQS's own limit (1 MiB since 2025): an envelope above it cannot be queued, so it is a 503.
MAX_MESSAGE_BYTES = 1_048_576


def _queue_url(url: str | None, setting: str) -> str:
    if not url:
        raise ConfigurationError(f"{setting} is not configured", code="QUEUE_NOT_CONFIGURED")
    return url


class RetryQueue:
    def __init__(self, context: Context) -> None:
        self._context = context

    @cached_property
    def _sqs(self) -> SQSClient:
        # Short timeouts and few retries: a 202 must be answered (or refused) within the deadline.
        config = Config(
            connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}
        )
        client: SQSClient = self._context.client("sqs", name="retry-queue", config=config)
        return client

    def enqueue(self, envelope: Envelope) -> None:
        """Put the envelope on RetryQueue durably, or raise `RetryQueueUnavailable`."""
        body = envelope.to_json()
        if len(body.encode()) > MAX_MESSAGE_BYTES:
            raise RetryQueueUnavailable(
                "the write failed upstream and is too large to queue for retry; retry it later",
                code="RETRY_ENVELOPE_TOO_LARGE",
            )
        url = _queue_url(self._context.settings.retry_queue_url, "RETRY_QUEUE_URL")
        try:
            self._sqs.send_message(QueueUrl=url, MessageBody=body)
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
        logger.info(
            "write queued for retry", extra={"retry_id": envelope.id, "kind": envelope.kind}
        )

    def park(self, body: str, reason: str, *, retry_id: str | None = None) -> None:
        """Send a message to DeadLetterQueue with the reason it cannot be delivered."""
        url = _queue_url(self._context.settings.dead_letter_queue_url, "DEAD_LETTER_QUEUE_URL")
        try:
            self._sqs.send_message(
                QueueUrl=url,
                MessageBody=body,
                MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1024]}},
            )
        except (BotoCoreError, ClientError) as exc:
            raise RetryQueueUnavailable(
                "could not park the message on the dead-letter queue"
            ) from exc
        logger.warning(
            "message parked on the dead-letter queue",
            extra={"retry_id": retry_id, "reason": reason},
        )

    def delay(self, receipt_handle: str, seconds: int) -> None:
        """Hide a received RetryQueue message for `seconds` (SQS's ChangeMessageVisibility)."""
        url = _queue_url(self._context.settings.retry_queue_url, "RETRY_QUEUE_URL")
        self._sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
