"""Idempotency over the IdempotencyTable (moto DynamoDB): a redelivered retry envelope is not
delivered twice, and an `Idempotency-Key` makes a client's retry of a write safe."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from devserver.apigw_event import event_for
from devserver.template import Route
from devserver.vendors.richrelevance import CONTENT_PREFIX, RichRelevanceSandbox
from gateway.core.envelope import Envelope, LastError
from tests.integration.conftest import Gateway
from tests.integration.rr_support import content, item, opt_out
from tests.support.records import untimed
from tests.support.tcp_proxy import SwitchableProxy

ROUTE = Route("POST", "/v1/postback/{database}/{table}")


def postback(gateway: Gateway, record: dict[str, Any], key: str | None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["idempotency-key"] = key
    event = event_for(
        ROUTE,
        path_parameters={"database": "web_events", "table": "orders"},
        headers=headers,
        body=json.dumps(record),
    )
    return gateway.invoke("PostbackFunction", event)


def orders(gateway: Gateway) -> list[dict[str, object]]:
    return untimed(gateway.td.records("web_events", "orders"))


def queue_envelope_twice(gateway: Gateway) -> Envelope:
    envelope = Envelope(
        kind="td.postback",
        lastError=LastError(status=503, detail="test"),
        # As the gateway accepted it: with its acceptance time.
        request={
            "database": "web_events",
            "table": "orders",
            "record": {"order": 1, "time": int(time.time())},
        },
    )
    for _ in range(2):  # SQS may hand out the same message twice; so may a replayed send
        gateway.sqs.send_message(
            QueueUrl=gateway.refs["RetryQueue"], MessageBody=envelope.to_json()
        )
    return envelope


# --- retry envelopes ------------------------------------------------------------------------


def test_redelivered_envelope_is_delivered_once(gateway: Gateway) -> None:
    queue_envelope_twice(gateway)
    poller = gateway.retry_poller()
    poller.batch_size = 1  # one after the other: the second finds the first's record

    assert poller.poll_once().failed == 0
    assert poller.poll_once().failed == 0

    assert orders(gateway) == [{"order": 1}]
    assert gateway.queue_depth("RetryQueue") == 0


def test_without_the_table_a_redelivered_envelope_is_delivered_twice(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TABLE", "")
    queue_envelope_twice(gateway)

    gateway.drain()

    assert orders(gateway) == [{"order": 1}, {"order": 1}]


def test_same_envelope_twice_in_one_batch_is_delivered_once(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_envelope_twice(gateway)
    # Both copies in flight at once: the first copy's call is held long enough for the second
    # copy's claim to meet it on a busy machine too (300 ms once proved too short there), and
    # within the function's timeout for TD's answer.
    monkeypatch.setenv("UPSTREAM_TIMEOUT_SECONDS", "10")
    gateway.td.latency_ms = 3000

    first = gateway.retry_poller().poll_once()
    gateway.td.latency_ms = 0
    gateway.drain()

    assert first.received == 2
    assert first.failed == 1  # the copy that found the other in progress comes back later
    assert orders(gateway) == [{"order": 1}]


def test_replay_delivers_when_the_table_is_unreachable(
    gateway: Gateway, dynamodb_proxy: SwitchableProxy
) -> None:
    dynamodb_proxy.up = False
    queue_envelope_twice(gateway)

    gateway.drain()

    # At least once wins over at most once: both copies went out rather than none.
    assert orders(gateway) == [{"order": 1}, {"order": 1}]


# --- Idempotency-Key ------------------------------------------------------------------------


def test_repeated_key_gets_the_first_answer_without_a_second_delivery(gateway: Gateway) -> None:
    first = postback(gateway, {"order": 7}, key="order-7")
    again = postback(gateway, {"order": 7}, key="order-7")

    assert first["statusCode"] == again["statusCode"] == 200
    assert again["body"] == first["body"]
    assert "Idempotency-Replayed" not in (first.get("headers") or {})
    assert again["headers"]["Idempotency-Replayed"] == "true"
    assert orders(gateway) == [{"order": 7}]


def test_without_a_key_each_request_is_delivered(gateway: Gateway) -> None:
    postback(gateway, {"order": 7}, key=None)
    postback(gateway, {"order": 7}, key=None)

    assert orders(gateway) == [{"order": 7}, {"order": 7}]


def test_repeated_key_after_a_queued_write_gets_the_same_retry_id(gateway: Gateway) -> None:
    gateway.td.add_fault(status=503, count=1)
    first = postback(gateway, {"order": 8}, key="order-8")
    again = postback(gateway, {"order": 8}, key="order-8")

    assert first["statusCode"] == again["statusCode"] == 202
    assert json.loads(again["body"])["retryId"] == json.loads(first["body"])["retryId"]
    assert len(gateway.envelopes("RetryQueue")) == 1
    assert orders(gateway) == []  # the 503 was the only vendor call


def test_key_reused_with_another_body_is_refused(gateway: Gateway) -> None:
    postback(gateway, {"order": 9}, key="order-9")
    other = postback(gateway, {"order": 10}, key="order-9")

    assert other["statusCode"] == 422
    assert json.loads(other["body"])["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert orders(gateway) == [{"order": 9}]


def test_failed_write_is_not_remembered(gateway: Gateway) -> None:
    gateway.td.add_fault(status=400, count=1, body={"error": "Bad Request"})
    refused = postback(gateway, {"order": 11}, key="order-11")
    retried = postback(gateway, {"order": 11}, key="order-11")

    assert refused["statusCode"] == 400
    assert retried["statusCode"] == 200
    assert orders(gateway) == [{"order": 11}]


@pytest.mark.parametrize("key", ["", "x" * 256, "bad key", "tab\there", "ключ"])
def test_malformed_key_is_a_400_problem(gateway: Gateway, key: str) -> None:
    response = postback(gateway, {"order": 12}, key=key)

    assert response["statusCode"] == 400
    assert json.loads(response["body"])["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert orders(gateway) == []


def test_key_with_the_table_unreachable_is_a_503_and_no_delivery(
    gateway: Gateway, dynamodb_proxy: SwitchableProxy
) -> None:
    dynamodb_proxy.up = False
    response = postback(gateway, {"order": 13}, key="order-13")

    assert response["statusCode"] == 503
    assert json.loads(response["body"])["code"] == "IDEMPOTENCY_UNAVAILABLE"
    assert response["headers"]["Retry-After"]
    assert orders(gateway) == []


# --- the other write routes -----------------------------------------------------------------


def test_opt_out_repeated_with_a_key_reaches_richrelevance_once(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    key = {"idempotency-key": "opt-out-u-1"}
    first = opt_out(gateway, "u-1", {"enableOptOut": True}, headers=key)
    again = opt_out(gateway, "u-1", {"enableOptOut": True}, headers=key)

    assert first["statusCode"] == again["statusCode"] == 200
    assert again["headers"]["Idempotency-Replayed"] == "true"
    assert len([r for r in rr_sandbox.received if "/optOut/" in r.path]) == 1


def test_content_repeated_with_a_key_is_sent_once_with_the_same_tracking_ids(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    key = {"idempotency-key": "catalog-2026-11-25"}
    items = [item(1), item(2)]
    first = content(gateway, "PUT", items, headers=key)
    again = content(gateway, "PUT", items, headers=key)
    other = content(gateway, "PUT", [item(3)], headers=key)

    assert first["statusCode"] == again["statusCode"] == 200
    assert json.loads(again["body"]) == json.loads(first["body"])
    assert again["headers"]["Idempotency-Replayed"] == "true"
    assert len(rr_sandbox.api_requests(CONTENT_PREFIX)) == 1
    assert other["statusCode"] == 422
    assert json.loads(other["body"])["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_repeat_in_a_later_second_is_the_same_request(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acceptance stamp is not part of what the key compares: a client repeating a record
    without a time of its own a second later gets the first answer, not 422."""
    from gateway.vendors.td import postback as postback_module

    monkeypatch.setattr(postback_module, "now", lambda: 1_790_000_000)
    first = postback(gateway, {"order": 12}, "key-12")
    monkeypatch.setattr(postback_module, "now", lambda: 1_790_000_005)
    again = postback(gateway, {"order": 12}, "key-12")

    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert again["headers"]["Idempotency-Replayed"] == "true"
    assert [r["time"] for r in gateway.td.records("web_events", "orders")] == [1_790_000_000]
