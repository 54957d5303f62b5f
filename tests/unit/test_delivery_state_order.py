"""The ordering records of a content chunk against botocore's Stubber (no network): a
transaction cancelled because some keys hold a later write, or because another writer held a
key, is made again for the keys still to record, and never more than four times."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from gateway.aws.delivery_state import DeliveryState
from gateway.context import Context
from gateway.core.settings import Settings


@pytest.fixture
def stubbed() -> Iterator[tuple[DeliveryState, Stubber]]:
    client = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    state = DeliveryState(Context(Settings(delivery_state_table="state")))
    state.__dict__["_dynamodb"] = client  # the cached client, replaced
    with Stubber(client) as stubber:
        yield state, stubber
        stubber.assert_no_pending_responses()


def updates(*keys: str) -> dict[str, Any]:
    return {
        "TransactItems": [
            {
                "Update": {
                    "TableName": "state",
                    "Key": {"pk": {"S": f"order#rr.content#{key}"}},
                    "UpdateExpression": "SET seq = :seq, expiresAt = :expires",
                    "ConditionExpression": "attribute_not_exists(seq) OR seq < :seq",
                    "ExpressionAttributeValues": {":seq": {"N": "2000"}, ":expires": ANY},
                }
            }
            for key in keys
        ]
    }


def cancelled(stubber: Stubber, *codes: str, keys: tuple[str, ...]) -> None:
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        expected_params=updates(*keys),
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
    )


def test_a_cancelled_transaction_is_made_again_without_the_keys_overtaken(
    stubbed: tuple[DeliveryState, Stubber],
) -> None:
    state, stubber = stubbed
    # "a" holds a later write; "b" was held by another writer's transaction; "c" was fine.
    cancelled(
        stubber, "ConditionalCheckFailed", "TransactionConflict", "None", keys=("a", "b", "c")
    )
    stubber.add_response("transact_write_items", {}, updates("b", "c"))

    state.accept("rr.content", ["a", "b", "c"], 2_000)


def test_nothing_is_made_again_when_every_key_holds_a_later_write(
    stubbed: tuple[DeliveryState, Stubber],
) -> None:
    state, stubber = stubbed
    cancelled(stubber, "ConditionalCheckFailed", "ConditionalCheckFailed", keys=("a", "b"))

    state.accept("rr.content", ["a", "b", "a"], 2_000)  # a key twice is recorded once


def test_a_transaction_cancelled_four_times_leaves_the_write_unordered(
    stubbed: tuple[DeliveryState, Stubber],
) -> None:
    state, stubber = stubbed
    for _ in range(4):
        cancelled(stubber, "TransactionConflict", "None", keys=("a", "b"))

    with pytest.raises(RuntimeError, match="ordering records unwritten"):
        state.accept("rr.content", ["a", "b"], 2_000)
