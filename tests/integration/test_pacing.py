"""Replays pace themselves to a recovering vendor: its Retry-After is the backoff when longer,
and after CIRCUIT_FAILURES retryable failures in a row its envelopes back off without calling
it until one probe call succeeds (state shared through DeliveryStateTable)."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from gateway.core.envelope import Envelope, LastError
from tests.integration.conftest import Gateway


def enqueue(gateway: Gateway, n: int) -> None:
    body = Envelope(
        kind="td.postback",
        request={
            "database": "web_events",
            "table": "pageviews",
            "record": {"n": n, "time": int(time.time())},
        },
        lastError=LastError(status=503, detail="down"),
    ).to_json()
    gateway.sqs.send_message(QueueUrl=gateway.refs["RetryQueue"], MessageBody=body)


def hidden(gateway: Gateway) -> int:
    attributes = gateway.sqs.get_queue_attributes(
        QueueUrl=gateway.refs["RetryQueue"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_vendors_retry_after_is_the_backoff(gateway: Gateway) -> None:
    # The computed backoff is 0 s here (RETRY_BACKOFF_BASE_SECONDS=0): only Retry-After hides it.
    enqueue(gateway, 1)
    gateway.td.add_fault(status=503, count=1, headers={"Retry-After": "600"})

    assert gateway.retry_poller().poll_once().failed == 1

    assert hidden(gateway) == 1
    assert gateway.retry_poller().poll_once().received == 0


def circuit(gateway: Gateway) -> dict[str, Any]:
    item: dict[str, Any] = (
        boto3.client("dynamodb")
        .get_item(
            TableName=gateway.refs["DeliveryStateTable"],
            Key={"pk": {"S": "circuit#treasure-data"}},
            ConsistentRead=True,
        )
        .get("Item", {})
    )
    return item


@pytest.fixture
def tight_circuit(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("CIRCUIT_FAILURES", "2")
    monkeypatch.setenv("CIRCUIT_OPEN_SECONDS", "600")
    return gateway


def test_a_failing_vendor_is_left_alone_until_a_probe_succeeds(tight_circuit: Gateway) -> None:
    gateway = tight_circuit
    gateway.td.add_fault(status=503, count=2)
    enqueue(gateway, 1)
    enqueue(gateway, 2)
    assert gateway.retry_poller().poll_once().failed == 2  # two failures in a row: open
    assert "openUntil" in circuit(gateway)

    for n in range(3, 8):
        enqueue(gateway, n)
    waited = gateway.retry_poller().poll_once()

    assert waited.received >= 5
    assert waited.failed == waited.received  # all backed off ...
    assert len(gateway.td.requests) == 2  # ... and TD was not called

    # The open period ends (as if 600 s had passed): one replay probes, its success closes it.
    boto3.client("dynamodb").update_item(
        TableName=gateway.refs["DeliveryStateTable"],
        Key={"pk": {"S": "circuit#treasure-data"}},
        UpdateExpression="SET openUntil = :past",
        ExpressionAttributeValues={":past": {"N": f"{time.time() - 1:.3f}"}},
    )
    time.sleep(1.1)  # past the function's one-second cache of the circuit
    for n in range(8, 12):
        enqueue(gateway, n)
    probed = gateway.retry_poller().poll_once()

    assert len(gateway.td.received) == 1  # exactly one probe reached TD
    assert probed.received - probed.failed == 1
    assert "openUntil" not in circuit(gateway)
    enqueue(gateway, 12)
    time.sleep(1.1)
    assert gateway.retry_poller().poll_once().failed == 0  # closed: replays flow again


def test_a_success_after_failures_resets_the_count(tight_circuit: Gateway) -> None:
    gateway = tight_circuit
    gateway.td.add_fault(status=503, count=1)
    enqueue(gateway, 1)
    assert gateway.retry_poller().poll_once().failed == 1
    time.sleep(1.1)
    assert gateway.retry_poller().poll_once().failed == 0  # the same envelope, delivered

    assert circuit(gateway)["failures"] == {"N": "0"}
    assert "openUntil" not in circuit(gateway)
