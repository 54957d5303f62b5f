"""The delivery state in DynamoDB (DeliveryStateTable), shared by every function instance:
- per ordering key (an opt-out's user, a content item's id): the sequence of the last accepted
  write, so that a replay overtaken by a later accepted write is acknowledged without a call;
- per vendor: the retry function's circuit (consecutive retryable failures, open until when).
Items expire through DynamoDB TTL on `expiresAt`. Without the table neither applies."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from gateway.context import Context

# Kept as long as a parked write can be redriven (the dead-letter queue's 14 days), so that a
# late redrive is still checked against what was accepted after it.
ORDER_TTL_SECONDS = 14 * 86_400
CIRCUIT_READ_INTERVAL_SECONDS = 1.0
CIRCUIT_TTL_SECONDS = 86_400
TRANSACTION_LIMIT = 100  # TransactWriteItems' limit of actions
TRANSACTION_ATTEMPTS = 4  # then the write stands unordered (OrderingUnavailable)
BATCH_GET_LIMIT = 100


def _order_key(kind: str, key: str) -> str:
    return f"order#{kind}#{key}"


@dataclass(frozen=True)
class Circuit:
    open_until: float  # epoch seconds; 0: closed
    failures: int  # consecutive retryable failures

    def is_open(self, now: float) -> bool:
        return now < self.open_until

    @property
    def probing(self) -> bool:
        """The open period is over (or running): the next call is a probe."""
        return self.open_until > 0


class DeliveryState:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._circuit_read = threading.Lock()  # one circuit read at a time per process
        self._circuits: dict[str, tuple[float, Circuit]] = {}
        self._prefetched: dict[str, int] = {}  # ordering record -> sequence (0: none)

    @property
    def enabled(self) -> bool:
        return bool(self._context.settings.delivery_state_table)

    @cached_property
    def _dynamodb(self) -> DynamoDBClient:
        config = Config(
            connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"}
        )
        client: DynamoDBClient = self._context.client(
            "dynamodb", name="delivery-state", config=config
        )
        return client

    @property
    def _table(self) -> str:
        return self._context.settings.delivery_state_table or ""

    # --- ordering -------------------------------------------------------------------------------

    def accept(self, kind: str, keys: Sequence[str], sequence: int) -> None:
        """Record `sequence` as the last accepted write of each key, never lowering a later
        write's (whichever of two writes in flight at once records last): one conditional
        update, or for many keys (a content chunk) one transaction of them per 100 keys."""
        unique = list(dict.fromkeys(keys))
        expires = str(int(time.time()) + ORDER_TTL_SECONDS)
        if len(unique) == 1:
            try:
                self._dynamodb.update_item(**self._order_update(kind, unique[0], sequence, expires))
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                # A later write was accepted already (concurrently): this one is overtaken.
            return
        for start in range(0, len(unique), TRANSACTION_LIMIT):
            batch = unique[start : start + TRANSACTION_LIMIT]
            self._accept_together(kind, batch, sequence, expires)

    def _accept_together(self, kind: str, keys: list[str], sequence: int, expires: str) -> None:
        # A transaction is all or nothing: when a key holds a later write already, or another
        # writer holds a key, it is cancelled whole and made again without the keys overtaken.
        for _ in range(TRANSACTION_ATTEMPTS):
            updates: Any = [
                {"Update": self._order_update(kind, key, sequence, expires)} for key in keys
            ]
            try:
                self._dynamodb.transact_write_items(TransactItems=updates)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                if len(reasons) != len(keys):  # one per update, in order; else unexplained
                    raise
                keys = [
                    key
                    for key, reason in zip(keys, reasons, strict=True)
                    if reason.get("Code") != "ConditionalCheckFailed"
                ]
                if not keys:
                    return
        raise RuntimeError("DynamoDB left ordering records unwritten")

    def _order_update(self, kind: str, key: str, sequence: int, expires: str) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": {"pk": {"S": _order_key(kind, key)}},
            "UpdateExpression": "SET seq = :seq, expiresAt = :expires",
            "ConditionExpression": "attribute_not_exists(seq) OR seq < :seq",
            "ExpressionAttributeValues": {
                ":seq": {"N": str(sequence)},
                ":expires": {"N": expires},
            },
        }

    def prefetch(self, wanted: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Read the last accepted sequence of every (kind, keys) at once (one read per 100
        keys) for `overtaken` to use: the retry function's whole batch in one call instead of
        one per envelope. Kept until `forget_prefetched` (the end of the invocation)."""
        order_keys = list(dict.fromkeys(_order_key(k, key) for k, keys in wanted for key in keys))
        found = self._read(order_keys)
        with self._lock:
            self._prefetched = {key: found.get(key, 0) for key in order_keys}

    def forget_prefetched(self) -> None:
        with self._lock:
            self._prefetched = {}

    def overtaken(self, kind: str, keys: Sequence[str], sequence: int) -> set[str]:
        """The keys whose last accepted write came after `sequence`: from the prefetched
        sequences when they cover every key, else read (one read per 100 keys)."""
        order_keys = {key: _order_key(kind, key) for key in dict.fromkeys(keys)}
        with self._lock:
            known = self._prefetched
        if all(k in known for k in order_keys.values()):
            found = known
        else:
            found = self._read(list(order_keys.values()))
        return {key for key, k in order_keys.items() if found.get(k, 0) > sequence}

    def _read(self, order_keys: list[str]) -> dict[str, int]:
        """The stored sequence of each ordering record that exists (consistent reads)."""
        found: dict[str, int] = {}
        for start in range(0, len(order_keys), BATCH_GET_LIMIT):
            batch = order_keys[start : start + BATCH_GET_LIMIT]
            if len(batch) == 1:
                item = self._dynamodb.get_item(
                    TableName=self._table, Key={"pk": {"S": batch[0]}}, ConsistentRead=True
                ).get("Item")
                items = [item] if item else []
            else:
                request: Any = {
                    self._table: {
                        "Keys": [{"pk": {"S": key}} for key in batch],
                        "ConsistentRead": True,
                    }
                }
                items = []
                while request:
                    answer = self._dynamodb.batch_get_item(RequestItems=request)
                    items.extend(answer["Responses"].get(self._table, []))
                    request = answer.get("UnprocessedKeys") or None
            for item in items:
                found[item["pk"]["S"]] = int(item["seq"]["N"])
        return found

    # --- the per-vendor circuit -----------------------------------------------------------------

    def circuit(self, vendor: str) -> Circuit:
        """The vendor's circuit as last read: at most one read a second per process, so a
        replay costs no AWS call of its own for it. The threads of a batch that find it stale
        together wait for one read instead of each making its own."""
        with self._circuit_read:
            now = time.monotonic()
            with self._lock:
                cached = self._circuits.get(vendor)
            if cached is not None and now - cached[0] < CIRCUIT_READ_INTERVAL_SECONDS:
                return cached[1]
            try:
                item = (
                    self._dynamodb.get_item(
                        TableName=self._table,
                        Key={"pk": {"S": f"circuit#{vendor}"}},
                        ConsistentRead=True,
                    ).get("Item")
                    or {}
                )
            except (BotoCoreError, ClientError) as exc:  # no state: behave as closed
                logger.warning("circuit state unreadable", extra={"error_type": type(exc).__name__})
                item = {}
            state = Circuit(
                open_until=float(item["openUntil"]["N"]) if "openUntil" in item else 0.0,
                failures=int(item["failures"]["N"]) if "failures" in item else 0,
            )
            with self._lock:
                self._circuits[vendor] = (now, state)
            return state

    def claim_probe(self, vendor: str, seen: Circuit, *, open_seconds: float) -> bool:
        """After the open period, one replay (of all concurrent invocations) probes the vendor:
        it moves the open period on, conditionally on nobody else having done so."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"circuit#{vendor}"}},
                UpdateExpression="SET openUntil = :until",
                ConditionExpression="openUntil = :seen",
                ExpressionAttributeValues={
                    ":until": {"N": f"{time.time() + open_seconds:.3f}"},
                    ":seen": {"N": f"{seen.open_until:.3f}"},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                self._forget(vendor)
                return False
            raise
        return True

    def record_failure(self, vendor: str, *, threshold: int, open_seconds: float) -> None:
        """Count a retryable failure; at `threshold` in a row the circuit opens."""
        now = time.time()
        key = {"pk": {"S": f"circuit#{vendor}"}}
        try:
            answer = self._dynamodb.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="ADD failures :one SET expiresAt = :expires",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":expires": {"N": str(int(now + CIRCUIT_TTL_SECONDS))},
                },
                ReturnValues="ALL_NEW",
            )
            attributes = answer["Attributes"]
            if int(attributes["failures"]["N"]) >= threshold and "openUntil" not in attributes:
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="SET openUntil = :until",
                    ExpressionAttributeValues={":until": {"N": f"{now + open_seconds:.3f}"}},
                )
                logger.warning("circuit opened", extra={"vendor": vendor})
        except (BotoCoreError, ClientError) as exc:
            logger.warning("circuit state not written", extra={"error_type": type(exc).__name__})
        self._forget(vendor)

    def record_success(self, vendor: str) -> None:
        """A delivered call closes the circuit and resets the count."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"pk": {"S": f"circuit#{vendor}"}},
                UpdateExpression="SET failures = :zero REMOVE openUntil",
                ExpressionAttributeValues={":zero": {"N": "0"}},
            )
        except (BotoCoreError, ClientError) as exc:
            logger.warning("circuit state not written", extra={"error_type": type(exc).__name__})
        self._forget(vendor)

    def _forget(self, vendor: str) -> None:
        with self._lock:
            self._circuits.pop(vendor, None)
