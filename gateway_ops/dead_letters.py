"""Dead-letter messages as the operator sees them: the retry envelope's kind and id, the reason
it was parked, its age; and a scan that reads a whole queue without consuming it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# The functions set `reason` when they park a message; SQS's own redrive (RetryQueue's
# maxReceiveCount) moves a message without one.
SQS_REDRIVE_REASON = "maxReceiveCount exceeded"
MALFORMED = "(malformed envelope)"


@dataclass
class DeadLetter:
    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]  # SQS's: SentTimestamp, ApproximateReceiveCount, ...
    message_attributes: dict[str, Any]  # the sender's: reason, ...
    envelope: dict[str, Any] | None = field(default=None)

    @classmethod
    def of(cls, message: MessageTypeDef) -> DeadLetter:
        try:
            parsed = json.loads(message["Body"])
        except ValueError:
            parsed = None
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message["Body"],
            attributes={str(k): v for k, v in message.get("Attributes", {}).items()},
            message_attributes=dict(message.get("MessageAttributes", {})),
            envelope=parsed if isinstance(parsed, dict) and parsed.get("v") == 1 else None,
        )

    @property
    def envelope_id(self) -> str | None:
        value = (self.envelope or {}).get("id")
        return value if isinstance(value, str) else None

    @property
    def kind(self) -> str:
        value = (self.envelope or {}).get("kind")
        return value if isinstance(value, str) else MALFORMED

    @property
    def reason(self) -> str:
        attr = self.message_attributes.get("reason") or {}
        value = attr.get("StringValue")
        return value if isinstance(value, str) and value else SQS_REDRIVE_REASON

    @property
    def failed_at(self) -> datetime:
        """When the write first failed (the envelope's firstFailedAt), else when SQS got it."""
        first = (self.envelope or {}).get("firstFailedAt")
        if isinstance(first, str):
            try:
                parsed = datetime.fromisoformat(first)
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            except ValueError:
                pass
        sent_ms = int(self.attributes.get("SentTimestamp", "0"))
        return datetime.fromtimestamp(sent_ms / 1000, UTC)

    def age_seconds(self, now: datetime) -> float:
        return max((now - self.failed_at).total_seconds(), 0.0)

    def matches(self, ident: str) -> bool:
        return ident in (self.message_id, self.envelope_id)

    def record(self) -> dict[str, Any]:
        """Everything about the message (its body included): for `show` and `export`."""
        return {
            "messageId": self.message_id,
            "envelopeId": self.envelope_id,
            "kind": self.kind,
            "reason": self.reason,
            "firstFailedAt": self.failed_at.isoformat(),
            "attributes": self.attributes,
            "messageAttributes": self.message_attributes,
            "envelope": self.envelope,
            "body": None if self.envelope is not None else self.body,
        }


class Scan:
    """Receives every message of a queue, keeping each one invisible to other consumers while
    the scan holds it (so that one pass sees each message once), and gives back what it did
    not consume when it ends: a crash gives them back too, when `visibility` seconds pass."""

    def __init__(self, sqs: SQSClient, url: str, *, visibility: int = 600) -> None:
        self.sqs, self.url, self.visibility = sqs, url, visibility
        self.held: dict[str, DeadLetter] = {}
        self.seen: set[str] = set()

    def __iter__(self) -> Iterator[DeadLetter]:
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=self.visibility,
                WaitTimeSeconds=1,  # a long poll asks every SQS host: empty means empty
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            new = [DeadLetter.of(m) for m in batch if m["MessageId"] not in self.seen]
            for m in batch:  # a message seen before came back: its visibility ran out
                if m["MessageId"] in self.held:
                    self.held[m["MessageId"]].receipt_handle = m["ReceiptHandle"]
            if not new:
                return
            for letter in new:  # held from receipt: an interrupted pass gives back all of them
                self.seen.add(letter.message_id)
                self.held[letter.message_id] = letter
            yield from new

    def consumed(self, letter: DeadLetter) -> None:
        """The message was deleted: nothing to give back."""
        self.held.pop(letter.message_id, None)

    def release(self) -> None:
        """Make every held message visible again at once."""
        held = list(self.held.values())
        for start in range(0, len(held), 10):
            chunk = held[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                    for n, m in enumerate(chunk)
                ],
            )
        self.held.clear()


@contextmanager
def scanning(sqs: SQSClient, url: str, *, visibility: int = 600) -> Iterator[Scan]:
    scan = Scan(sqs, url, visibility=visibility)
    try:
        yield scan
    finally:
        scan.release()


def read_all(sqs: SQSClient, url: str) -> list[DeadLetter]:
    """Every message of the queue, left on it."""
    with scanning(sqs, url) as scan:
        return list(scan)
