"""GroupCommit against moto's DynamoDB: puts that arrive together share a BatchWriteItem, each
caller returns once its item is written, and a failed call fails every caller it carried. Threads
taking part are waited for (within the linger), so items that finish apart share a call too.

The linger tests wait at most 20 s for a put that returns in milliseconds, with a linger of 30 s:
a leader that waited for the wrong thread fails the test instead of passing it late."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from gateway.aws.group_commit import GroupCommit
from tests.integration.conftest import Gateway

LINGER = 30.0
BOUND = 20  # seconds a test waits for what takes milliseconds: less than the linger


def _item(n: int) -> dict[str, Any]:
    return {"id": {"S": f"group-commit-{n}"}, "status": {"S": "COMPLETED"}}


def test_puts_arriving_during_a_write_share_the_next_call(gateway: Gateway) -> None:
    client = boto3.client("dynamodb")
    table = gateway.refs["IdempotencyTable"]
    writer = GroupCommit(client, table)
    calls: list[int] = []

    def hold_the_first_call(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["RequestItems"][table]))
        deadline = time.monotonic() + 10
        while len(calls) == 1 and len(writer._pending) < 9 and time.monotonic() < deadline:
            time.sleep(0.005)  # the other nine arrive while the first call is on the wire

    client.meta.events.register(
        "provide-client-params.dynamodb.BatchWriteItem", hold_the_first_call
    )
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda n: writer.put(_item(n)), range(10)))

    assert calls == [1, 9]
    for n in range(10):
        assert client.get_item(TableName=table, Key={"id": {"S": f"group-commit-{n}"}})["Item"]


def _counting(client: Any, table: str) -> list[int]:
    """The number of items of each BatchWriteItem `client` makes to `table`, as made."""
    calls: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["RequestItems"][table]))

    client.meta.events.register("provide-client-params.dynamodb.BatchWriteItem", count)
    return calls


def _wait_for(condition: Any) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.001)


def test_items_finishing_apart_share_one_call(gateway: Gateway) -> None:
    """Ten items of a batch, the first finished while the nine others still work: before the
    linger, the first was written alone and the others after it (ten calls at worst)."""
    client = boto3.client("dynamodb")
    table = gateway.refs["IdempotencyTable"]
    writer = GroupCommit(client, table, linger_seconds=LINGER)
    calls = _counting(client, table)
    started = threading.Barrier(11)
    finish = [threading.Event() for _ in range(10)]

    def item(n: int) -> None:
        with writer.taking_part():
            started.wait()
            finish[n].wait()
            writer.put(_item(n))

    with ThreadPoolExecutor(10) as pool:
        done = [pool.submit(item, n) for n in range(10)]
        try:
            started.wait()
            finish[0].set()
            _wait_for(lambda: writer._pending or calls)  # the first item is in (or written)
            for n in range(1, 10):
                finish[n].set()
                _wait_for(lambda n=n: len(writer._pending) > n or calls)
            for future in done:
                future.result(timeout=BOUND)
        finally:  # a failed assertion must not leave the pool waiting for its threads
            for event in finish:
                event.set()

    assert calls == [10]
    for n in range(10):
        assert client.get_item(TableName=table, Key={"id": {"S": f"group-commit-{n}"}})["Item"]


def test_an_item_that_puts_nothing_is_not_waited_for(gateway: Gateway) -> None:
    """An item whose delivery failed leaves without a record: the leader writes the others'
    records as soon as it has left, not after the linger."""
    client = boto3.client("dynamodb")
    table = gateway.refs["IdempotencyTable"]
    writer = GroupCommit(client, table, linger_seconds=LINGER)
    calls = _counting(client, table)
    started = threading.Barrier(3)
    leave = threading.Event()

    def writes(n: int) -> None:
        with writer.taking_part():
            started.wait()
            writer.put(_item(n))

    def fails() -> None:
        with writer.taking_part():
            started.wait()
            leave.wait()

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(writes, 0)
        failing = pool.submit(fails)
        try:
            started.wait()
            _wait_for(lambda: writer._pending or calls)  # the leader waits for the failing item
            leave.set()
            first.result(timeout=BOUND)
            failing.result(timeout=BOUND)
        finally:
            leave.set()

    assert calls == [1]


def test_the_linger_bounds_the_wait_for_a_slow_item(gateway: Gateway) -> None:
    """An item still waiting for its vendor does not hold back the records of the others: they
    are written once the linger is over, and its own record later, when it has one."""
    client = boto3.client("dynamodb")
    table = gateway.refs["IdempotencyTable"]
    writer = GroupCommit(client, table, linger_seconds=0.05)
    calls = _counting(client, table)
    started = threading.Barrier(3)
    slow_done = threading.Event()

    def item(n: int, wait: threading.Event | None = None) -> None:
        with writer.taking_part():
            started.wait()
            if wait is not None:
                wait.wait()
            writer.put(_item(n))

    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(item, 1, slow_done)
        fast = pool.submit(item, 0)
        try:
            started.wait()
            fast.result(timeout=BOUND)  # returns while the slow item is still out
            assert calls == [1]
        finally:
            slow_done.set()
        slow.result(timeout=BOUND)

    assert calls == [1, 1]


def test_a_failed_write_fails_every_caller_it_carried(gateway: Gateway) -> None:
    writer = GroupCommit(boto3.client("dynamodb"), "no-such-table")
    errors: list[Exception] = []
    start = threading.Barrier(3)

    def put(n: int) -> None:
        start.wait()
        try:
            writer.put(_item(n))
        except ClientError as exc:
            errors.append(exc)

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(put, range(3)))

    assert len(errors) == 3
    assert {e.response["Error"]["Code"] for e in errors} == {"ResourceNotFoundException"}
    # The writer is not left stuck: the next put writes again (and fails again, here).
    with pytest.raises(ClientError):
        writer.put(_item(9))


def test_group_committed_record_is_the_item_powertools_writes(gateway: Gateway) -> None:
    """The override replaces Powertools' private `_update_record`: the item it writes must stay
    the one Powertools' own update leaves, field for field, or a Powertools upgrade would read
    records it no longer understands (hence the pin to Powertools' minor version)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from gateway.aws.group_commit import GroupCommittedStore

    client = boto3.client("dynamodb")
    table = gateway.refs["IdempotencyTable"]
    stores = {
        "powertools": DynamoDBPersistenceLayer(table_name=table, boto3_client=client),
        "group-commit": GroupCommittedStore(table_name=table, boto3_client=client),
    }
    items = {}
    for name, store in stores.items():
        store.payload_validation_enabled = True
        record = DataRecord(
            idempotency_key=f"envelope#{name}",
            status="COMPLETED",
            expiry_timestamp=1_900_000_000,
            response_data='{"type": "VendorResponse", "status": 200}',
            payload_hash="hash-of-the-payload",
        )
        client.put_item(TableName=table, Item={"id": {"S": record.idempotency_key}})
        store._update_record(record)
        item = client.get_item(TableName=table, Key={"id": {"S": record.idempotency_key}})["Item"]
        items[name] = {k: v for k, v in item.items() if k != "id"}

    assert items["group-commit"] == items["powertools"]
