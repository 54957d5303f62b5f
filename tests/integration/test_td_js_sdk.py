"""The TD JS SDK routes in-process: what td-js-sdk v4 sends (`{"events": [record]}` with the
page's `Authorization: TD1 <writeKey>`) reaches TD's sandbox as Postback calls with the gateway's
key, through the same retry queue, dead-letter queue and idempotency as the postback route."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from devserver.apigw_event import event_for
from devserver.template import Route
from gateway.core.observability import logger
from gateway.vendors.td.js_sdk import MAX_EVENTS
from tests.integration.conftest import Gateway
from tests.support.records import untimed

SDK_ROUTE = Route("POST", "/v1/td/{database}/{table}")
P13N_ROUTE = Route("POST", "/v1/personalization/public/{database}/{table}")
SDK_TYPE = "application/vnd.treasuredata.v1+json"
PAGE_KEY = "1/page-write-key-that-must-stay-in-the-page"


def sdk_post(
    gateway: Gateway,
    body: Any,
    *,
    content_type: str = SDK_TYPE,
    database: str = "web_events",
    table: str = "clicks",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    event = event_for(
        SDK_ROUTE,
        path_parameters={"database": database, "table": table},
        headers={
            "content-type": content_type,
            "accept": content_type,
            "authorization": f"TD1 {PAGE_KEY}",
            "origin": "http://localhost:3000",
            **(headers or {}),
        },
        body=raw,
        raw_query="modified=1764000000123",
    )
    return gateway.invoke("PostbackFunction", event)


def queued_envelopes(gateway: Gateway) -> list[dict[str, Any]]:
    """RetryQueue's envelopes, read without hiding them from the retry function's drain."""
    messages = gateway.sqs.receive_message(
        QueueUrl=gateway.refs["RetryQueue"], MaxNumberOfMessages=10, VisibilityTimeout=0
    ).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def problem_code(response: dict[str, Any]) -> str:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    code: str = json.loads(response["body"])["code"]
    return code


def test_sdk_event_reaches_td_with_the_gateways_key_not_the_pages(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger=logger.name)  # the gateway's own lines, DEBUG included
    record = {"td_url": "https://www.example.com/", "button": "signup", "time": 1764000000}

    response = sdk_post(gateway, {"events": [record]})

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"]) == {"status": "ok", "receipts": [{"status": "ok"}]}
    assert gateway.td.records("web_events", "clicks") == [record]
    [sent] = gateway.td.received
    assert sent.header("X-TD-Write-Key") == "sandbox-td-write-key"
    assert sent.header("Authorization") is None
    assert PAGE_KEY not in json.dumps(sent.headers)
    # Nor in any log line of the invocation (message or structured keys), DEBUG included.
    assert caplog.records  # the policy logs each delivery at DEBUG
    assert all(PAGE_KEY not in str(r.__dict__) for r in caplog.records)


def test_signed_mode_media_type_and_plain_json_are_accepted(gateway: Gateway) -> None:
    signed = sdk_post(
        gateway, {"events": [{"n": 1}]}, content_type="application/vnd.treasuredata.v1.js+json"
    )
    plain = sdk_post(gateway, {"events": [{"n": 2}]}, content_type="application/json")

    assert (signed["statusCode"], plain["statusCode"]) == (200, 200)
    assert untimed(gateway.td.records("web_events", "clicks")) == [{"n": 1}, {"n": 2}]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_non_json_content_type_is_415_without_calling_td(
    gateway: Gateway, content_type: str
) -> None:
    response = sdk_post(gateway, {"events": [{"n": 1}]}, content_type=content_type)

    assert response["statusCode"] == 415
    assert problem_code(response) == "UNSUPPORTED_MEDIA_TYPE"
    assert gateway.td.requests == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"n": 1}, 400, "INVALID_EVENTS"),
        ({"events": []}, 400, "INVALID_EVENTS"),
        ({"events": {"n": 1}}, 400, "INVALID_EVENTS"),
        ({"events": [{"n": 1}], "extra": True}, 400, "INVALID_EVENTS"),
        ({"events": [{"n": 1}, "text"]}, 400, "EVENT_NOT_OBJECT"),
        ({"events": [{"n": i} for i in range(MAX_EVENTS + 1)]}, 413, "TOO_MANY_EVENTS"),
        ('{"events": [', 400, "INVALID_JSON"),
        ("[]", 400, "BODY_NOT_OBJECT"),
        ("", 400, "EMPTY_BODY"),
    ],
)
def test_bad_bodies_are_refused_without_calling_td(
    gateway: Gateway, body: Any, status: int, code: str
) -> None:
    response = sdk_post(gateway, body)

    assert response["statusCode"] == status
    assert problem_code(response) == code
    assert gateway.td.requests == []


def test_oversized_event_is_413_without_calling_td(gateway: Gateway) -> None:
    response = sdk_post(gateway, {"events": [{"n": 1}, {"blob": "x" * 1_048_064}]})

    assert response["statusCode"] == 413
    assert json.loads(response["body"])["errors"][0]["pointer"] == "/events/1"
    assert gateway.td.requests == []


@pytest.mark.parametrize(
    ("database", "table", "code"),
    [
        ("web-events", "clicks", "INVALID_DATABASE_NAME"),
        ("web_events", "a b", "INVALID_TABLE_NAME"),
    ],
)
def test_bad_names_are_400_without_calling_td(
    gateway: Gateway, database: str, table: str, code: str
) -> None:
    response = sdk_post(gateway, {"events": [{"n": 1}]}, database=database, table=table)

    assert response["statusCode"] == 400
    assert problem_code(response) == code
    assert gateway.td.requests == []


def test_a_batch_is_one_postback_call_per_event_in_order(gateway: Gateway) -> None:
    events = [{"n": i} for i in range(3)]

    response = sdk_post(gateway, {"events": events})

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["receipts"] == [{"status": "ok"}] * 3
    assert untimed(gateway.td.records("web_events", "clicks")) == events


def test_td_failing_is_202_queued_and_delivered_by_the_retry_function(gateway: Gateway) -> None:
    gateway.td.add_fault(status=503, count=1)

    response = sdk_post(gateway, {"events": [{"n": 1}]})

    # A 2xx: the SDK's success callback fires, and the event is the gateway's to deliver.
    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["status"] == "queued"
    assert body["receipts"] == [{"status": "queued", "retryId": body["retryId"]}]
    [envelope] = queued_envelopes(gateway)
    assert envelope["id"] == body["retryId"]
    assert envelope["kind"] == "td.postback"
    assert untimed([envelope["request"].pop("record")]) == [{"n": 1}]
    assert envelope["request"] == {"database": "web_events", "table": "clicks"}
    assert PAGE_KEY not in json.dumps(envelope)
    assert gateway.td.records("web_events", "clicks") == []

    gateway.drain()

    assert untimed(gateway.td.records("web_events", "clicks")) == [{"n": 1}]


def test_one_event_of_a_batch_queued_makes_the_answer_202(gateway: Gateway) -> None:
    gateway.td.add_fault(status=503, count=1, skip=1)  # the second event's call fails

    response = sdk_post(gateway, {"events": [{"n": 0}, {"n": 1}, {"n": 2}]})

    assert response["statusCode"] == 202
    receipts = json.loads(response["body"])["receipts"]
    assert [r["status"] for r in receipts] == ["ok", "queued", "ok"]
    gateway.drain()
    assert sorted(r["n"] for r in gateway.td.records("web_events", "clicks")) == [0, 1, 2]


def test_rejected_gateway_key_is_502_and_the_event_parked(gateway: Gateway) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=gateway.env["TD_SECRET_ID"], SecretString=json.dumps({"write_key": "revoked-key"})
    )

    response = sdk_post(gateway, {"events": [{"n": 1}]})

    assert response["statusCode"] == 502
    assert problem_code(response) == "UPSTREAM_AUTH"
    [parked] = gateway.messages("DeadLetterQueue")
    assert untimed([json.loads(parked["Body"])["request"]["record"]]) == [{"n": 1}]
    assert "credentials" in parked["MessageAttributes"]["reason"]["StringValue"]


def test_repeated_idempotency_key_is_delivered_once(gateway: Gateway) -> None:
    body = {"events": [{"order": 7}]}
    first = sdk_post(gateway, body, headers={"idempotency-key": "order-7"})
    again = sdk_post(gateway, body, headers={"idempotency-key": "order-7"})

    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert again["headers"]["Idempotency-Replayed"] == "true"
    assert untimed(gateway.td.records("web_events", "clicks")) == [{"order": 7}]


def test_repeated_batch_with_a_key_repeats_none_of_its_events(gateway: Gateway) -> None:
    body = {"events": [{"n": 0}, {"n": 1}]}
    sdk_post(gateway, body, headers={"idempotency-key": "batch-1"})
    again = sdk_post(gateway, body, headers={"idempotency-key": "batch-1"})

    assert again["statusCode"] == 200
    assert untimed(gateway.td.records("web_events", "clicks")) == [{"n": 0}, {"n": 1}]


# --- fetchPersonalization ---------------------------------------------------------------------


def test_fetch_personalization_body_reaches_td_with_the_gateways_credentials(
    gateway: Gateway,
) -> None:
    # What fetchPersonalization sends: the event as the body, the page's key and token.
    event = event_for(
        P13N_ROUTE,
        path_parameters={"database": "personalization__database", "table": "preferences_table"},
        headers={
            "content-type": SDK_TYPE,
            "authorization": f"TD1 {PAGE_KEY}",
            "wp13n-token": "9/9/page-token",
            "origin": "http://localhost:3000",
        },
        body=json.dumps({"td_client_id": "c-1", "event": "page_view"}),
    )

    response = gateway.invoke("PersonalizationFunction", event)

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["offers"]
    [sent] = gateway.p13n.received
    assert sent.path == "/personalization__database/preferences_table"
    assert sent.json()["td_client_id"] == "c-1"
    assert sent.header("Authorization") == "TD1 1/sandbox-td-api-key"
    assert sent.header("WP13n-Token") == "1/8/sandbox-p13n-token"
