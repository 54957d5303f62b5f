"""Group commit of DynamoDB puts: threads that finish together share BatchWriteItem calls.

`put(item)` returns once the item is written (or raises), as a PutItem would, so nothing is
acknowledged before it is durable. The first thread to arrive leads: it writes the items pending,
up to 25 a call (DynamoDB's limit), and keeps writing while more arrive; the others wait for their
item's call. Threads that announce themselves (`taking_part`, the retry function's items of one
batch) are waited for before the first call, for at most `linger_seconds`: items whose vendor
calls end a few milliseconds apart then share one call instead of one each
(benchmarks/REPORT.md). The linger only delays records of items already delivered, never the
batch: its last item is written as soon as it arrives. The bound keeps short the time in which a
crashed invocation leaves a delivered item without its record (it would be delivered again)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

MAX_ITEMS_PER_CALL = 25  # BatchWriteItem's limit
UNPROCESSED_RETRIES = 3  # DynamoDB may hand back items it throttled: write them again
# Small against the vendors' timeouts (seconds), large against the spread of a batch's vendor
# answers, which arrive within a few milliseconds of each other when the vendor is healthy.
LINGER_SECONDS = 0.05


class GroupCommit:
    def __init__(
        self, client: Any, table_name: str, *, linger_seconds: float | None = None
    ) -> None:
        self._client = client
        self._table = table_name
        self._linger = LINGER_SECONDS if linger_seconds is None else linger_seconds
        self._changed = threading.Condition()
        self._pending: list[tuple[dict[str, Any], Future[None]]] = []
        self._writing = False
        self._expected = 0  # threads taking part that have neither put nor left
        self._mine = threading.local()  # whether this thread is one of them

    @contextmanager
    def taking_part(self) -> Iterator[None]:
        """Around one thread's work that may end in a `put`: a leader waits for it (within the
        linger) instead of writing without its item."""
        if getattr(self._mine, "expected", False):  # taking part already
            yield
            return
        with self._changed:
            self._expected += 1
            self._mine.expected = True
        try:
            yield
        finally:
            with self._changed:
                self._arrive()

    def _arrive(self) -> None:
        # Under the lock: this thread puts nothing more, so no leader waits for it any longer.
        if getattr(self._mine, "expected", False):
            self._mine.expected = False
            self._expected -= 1
            self._changed.notify_all()

    def put(self, item: dict[str, Any]) -> None:
        """Write `item` (DynamoDB attribute values); raises what the write raised."""
        done: Future[None] = Future()
        with self._changed:
            self._pending.append((item, done))
            self._arrive()
            leader = not self._writing
            self._writing = True
        if leader:
            self._write_pending(time.monotonic() + self._linger)
        done.result()

    def _write_pending(self, linger_until: float) -> None:
        while True:
            with self._changed:
                while self._expected and len(self._pending) < MAX_ITEMS_PER_CALL:
                    left = linger_until - time.monotonic()
                    if left <= 0:
                        break
                    self._changed.wait(left)
                batch = self._pending[:MAX_ITEMS_PER_CALL]
                del self._pending[:MAX_ITEMS_PER_CALL]
                if not batch:
                    self._writing = False
                    return
            try:
                self._write([item for item, _ in batch])
            except Exception as exc:  # every waiter of this call gets the error
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)

    def _write(self, items: list[dict[str, Any]]) -> None:
        requests: dict[str, Any] = {self._table: [{"PutRequest": {"Item": i}} for i in items]}
        for attempt in range(UNPROCESSED_RETRIES + 1):
            requests = self._client.batch_write_item(RequestItems=requests).get("UnprocessedItems")
            if not requests:
                return
            time.sleep(0.05 * 2**attempt)
        raise RuntimeError(f"DynamoDB left {len(requests[self._table])} items unwritten")


class GroupCommittedStore(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB store whose success records (the one write after delivery) go
    through a group commit: a whole-item put of what Powertools' own `_update_record` sets
    (tests/integration/test_group_commit.py compares the two items). The claim (a conditional
    put) and the release on failure stay Powertools' own calls. `_update_record` is a private
    hook, hence Powertools' pin to the minor version this was written against."""

    def __init__(self, *, table_name: str, boto3_client: Any) -> None:
        super().__init__(table_name=table_name, boto3_client=boto3_client)
        self.writer = GroupCommit(boto3_client, table_name)

    def _update_record(self, data_record: DataRecord) -> None:
        item = {
            **self._get_key(data_record.idempotency_key),
            self.expiry_attr: {"N": str(data_record.expiry_timestamp)},
            self.data_attr: {"S": data_record.response_data},
            self.status_attr: {"S": data_record.status},
        }
        if self.payload_validation_enabled:
            item[self.validation_key_attr] = {"S": data_record.payload_hash}
        self.writer.put(item)
