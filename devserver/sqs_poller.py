"""Feeds an SQS queue to a Lambda handler in batches, as Lambda's event source mapping does:
receive (the queue's visibility timeout applies), invoke with an SQS event, delete what
succeeded, leave the `batchItemFailures` to come back when their visibility runs out.
`EventSourceMapping` runs several pollers with at most `ScalingConfig.MaximumConcurrency`
invocations in flight."""

from __future__ import annotations

import hashlib
import threading
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


class EventSourceMapping:
    """`pollers` threads on one queue for one function. A poller takes one of
    `max_concurrency` slots before it receives and gives it back after the invocation, so no
    more invocations than that are ever in flight and no message waits, invisible, for a slot."""

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        max_concurrency: int,
        pollers: int,
        batch_size: int = 10,
        function_name: str = "RetryFunction",
        timeout_seconds: float = 30,
    ) -> None:
        self.queue_url = queue_url
        self.function_name = function_name
        self.max_concurrency = max_concurrency
        self._handler = handler
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak_in_flight = 0  # most invocations seen in flight at once
        self._pollers = [
            SqsPoller(
                queue_url,
                self._invoke,
                batch_size=batch_size,
                function_name=function_name,
                timeout_seconds=timeout_seconds,
            )
            for _ in range(max(pollers, 1))
        ]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._polling: set[int] = set()  # pollers that have entered their loop

    def _invoke(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            return self._handler(event, context)
        finally:
            with self._lock:
                self.in_flight -= 1

    def start(self) -> EventSourceMapping:
        for n, poller in enumerate(self._pollers):
            thread = threading.Thread(
                target=self._poll_forever,
                args=(n, poller),
                daemon=True,
                name=f"poller-{self.function_name}-{n}",
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def ready(self) -> bool:
        with self._lock:
            polling = len(self._polling)
        return polling == len(self._pollers) and all(t.is_alive() for t in self._threads)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "function": self.function_name,
                "pollers": len(self._pollers),
                "max_concurrency": self.max_concurrency,
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
            }

    def _poll_forever(self, n: int, poller: SqsPoller) -> None:
        with self._lock:
            self._polling.add(n)
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=1):
                continue
            try:
                received = poller.poll_once(wait_seconds=1).received
            except Exception as exc:  # keep polling, as the event source mapping does
                print(f"  poller: {type(exc).__name__}: {exc}", flush=True)
                received = -1
            finally:
                self._slots.release()
            if received <= 0:
                self._stop.wait(0.2 if received == 0 else 1)
