"""GroupCommit against moto's DynamoDB: puts that arrive together share a BatchWriteItem, each
caller returns once its item is written, and a failed call fails every caller it carried."""

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
