"""Feeds an SQS queue to a Lambda handler in batches, as Lambda's event source mapping does:
receive (the queue's visibility timeout applies), invoke with an SQS event, delete what
succeeded, leave the `batchItemFailures` to come back when their visibility runs out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from devserver.lambda_context import LambdaContext

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class BatchResult:
    received: int
    failed: int


class SqsPoller:
    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        function_name: str = "RetryFunction",
        timeout_seconds: float = 30,
    ) -> None:
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = batch_size
        self.function_name = function_name
        self.timeout_seconds = timeout_seconds
        self._sqs = boto3.client("sqs")
        self._arn = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def poll_once(self, wait_seconds: int = 0) -> BatchResult:
        messages = self.receive(wait_seconds)
        if not messages:
            return BatchResult(0, 0)
        event = {"Records": [self._record(m) for m in messages]}
        context = LambdaContext(
            function_name=self.function_name, timeout_seconds=self.timeout_seconds
        )
        try:
            response = self.handler(event, context) or {}
        except Exception:
            # A failed invocation: the whole batch comes back after the visibility timeout.
            self.release(messages)
            return BatchResult(len(messages), len(messages))
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        self.delete([m for m in messages if m["MessageId"] not in failed])
        self.release([m for m in messages if m["MessageId"] in failed])
        return BatchResult(len(messages), len(failed))

    def receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        """Up to a batch of messages, as SQS ReceiveMessage returns them."""
        response: dict[str, Any] = self._sqs.receive_message(  # type: ignore[assignment]
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def delete(self, done: list[dict[str, Any]]) -> None:
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )

    def release(self, failed: list[dict[str, Any]]) -> None:
        """SQS brings failed messages back by itself, when their visibility runs out."""

    def _record(self, message: Any) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
                for k, v in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": self._sqs.meta.region_name,
        }
