"""PostbackFunction against moto and the TD postback sandbox: every row of the postback
outcome table (README)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from devserver.apigw_event import event_for
from devserver.template import Route
from tests.integration.conftest import Gateway
from tests.support.records import untimed

ROUTE = Route("POST", "/v1/postback/{database}/{table}")


def postback(
    gateway: Gateway, body: Any, database: str = "web_events", table: str = "pageviews"
) -> dict[str, Any]:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    event = event_for(
        ROUTE,
        path_parameters={"database": database, "table": table},
        headers={"content-type": "application/json"},
        body=raw,
    )
    return gateway.invoke("PostbackFunction", event)


def problem(response: dict[str, Any]) -> dict[str, Any]:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response["body"])
    assert body["status"] == response["statusCode"]
    assert set(body) >= {"type", "title", "status", "detail", "code", "errors"}
    return body


def test_accepted_record_reaches_td_with_write_key(gateway: Gateway) -> None:
    response = postback(gateway, {"user_id": "u-1", "n": 1})

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {}
    assert untimed(gateway.td.records("web_events", "pageviews")) == [{"user_id": "u-1", "n": 1}]
    sent = gateway.td.received[0]
    assert sent.header("X-TD-Write-Key") == "sandbox-td-write-key"
    assert sent.header("Content-Type") == "application/json"
    assert gateway.queue_depth("RetryQueue") == 0


@pytest.mark.parametrize(
    ("database", "table", "code"),
    [
        ("web-events", "pageviews", "INVALID_DATABASE_NAME"),
        ("web_events", "page views", "INVALID_TABLE_NAME"),
        ("web_events", "..%2F..%2Fadmin", "INVALID_TABLE_NAME"),
        ("web_events", "ページ", "INVALID_TABLE_NAME"),
    ],
)
def test_bad_names_are_400_without_calling_td(
    gateway: Gateway, database: str, table: str, code: str
) -> None:
    response = postback(gateway, {"a": 1}, database=database, table=table)

    assert response["statusCode"] == 400
    assert problem(response)["code"] == code
    assert gateway.td.requests == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"a": 1,', "INVALID_JSON"),
        ("[1, 2]", "BODY_NOT_OBJECT"),
        ('"text"', "BODY_NOT_OBJECT"),
        ("", "EMPTY_BODY"),
        (b"\xff\xfe{}", "INVALID_JSON"),
        ("[" * 100_000 + "]" * 100_000, "INVALID_JSON"),
    ],
)
def test_bad_bodies_are_400_without_calling_td(
    gateway: Gateway, body: str | bytes, code: str
) -> None:
    response = postback(gateway, body)

    assert response["statusCode"] == 400
    assert problem(response)["code"] == code
    assert gateway.td.requests == []


def test_record_over_limit_is_413_without_calling_td(gateway: Gateway) -> None:
    filler = "x" * (1_048_064 - len('{"pad":""}') + 1)
    response = postback(gateway, {"pad": filler})

    assert response["statusCode"] == 413
    assert problem(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert gateway.td.requests == []


def test_record_at_limit_is_delivered(gateway: Gateway) -> None:
    # With a time of its own: the gateway adds nothing to it.
    body = json.dumps({"time": 1764000000, "pad": "x" * (1_048_064 - 31)})
    assert len(body.encode()) == 1_048_064

    assert postback(gateway, body)["statusCode"] == 200
    assert len(gateway.td.received) == 1


def test_record_the_time_stamp_would_take_over_the_limit_is_413(gateway: Gateway) -> None:
    body = json.dumps({"pad": "x" * (1_048_064 - len('{"pad": ""}'))})
    assert len(body.encode()) == 1_048_064

    response = postback(gateway, body)

    assert response["statusCode"] == 413
    assert problem(response)["code"] == "PAYLOAD_TOO_LARGE"
    assert gateway.td.requests == []


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"status": 408},
        {"mode": "timeout", "latency_ms": 1500},
        {"mode": "reset"},
    ],
)
def test_retryable_failure_is_202_with_envelope_on_retry_queue(
    gateway: Gateway, fault: dict[str, Any]
) -> None:
    gateway.td.add_fault(count=1, **fault)

    response = postback(gateway, {"user_id": "u-2"})

    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["status"] == "queued"
    [envelope] = gateway.envelopes("RetryQueue")
    assert envelope["id"] == body["retryId"]
    assert envelope["v"] == 1
    assert envelope["kind"] == "td.postback"
    assert envelope["attempt"] == 1
    assert envelope["request"] == {
        "database": "web_events",
        "table": "pageviews",
        "record": {"user_id": "u-2", "time": envelope["request"]["record"]["time"]},
    }
    assert untimed([envelope["request"]["record"]]) == [{"user_id": "u-2"}]
    assert envelope["lastError"]["status"] == fault.get("status")
    assert "firstFailedAt" in envelope
    assert "sandbox-td-write-key" not in json.dumps(envelope)


def test_retryable_failure_with_queue_unreachable_is_503(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.td.add_fault(status=503, count=1)
    monkeypatch.setenv("RETRY_QUEUE_URL", gateway.refs["RetryQueue"] + "-does-not-exist")

    response = postback(gateway, {"user_id": "u-3"})

    assert response["statusCode"] == 503
    assert problem(response)["code"] == "RETRY_QUEUE_UNAVAILABLE"
    assert response["headers"]["Retry-After"]
    assert gateway.queue_depth("RetryQueue") == 0


def test_td_429_is_429_with_retry_after(gateway: Gateway) -> None:
    gateway.td.add_fault(status=429, count=1, headers={"Retry-After": "7"})

    response = postback(gateway, {"user_id": "u-4"})

    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "7"
    assert problem(response)["code"] == "UPSTREAM_THROTTLED"
    assert gateway.queue_depth("RetryQueue") == 0


def test_td_400_is_passed_on_as_400(gateway: Gateway) -> None:
    gateway.td.add_fault(status=400, count=1, body={"error": "Bad Request"})

    response = postback(gateway, {"user_id": "u-5"})

    assert response["statusCode"] == 400
    assert problem(response)["code"] == "UPSTREAM_REJECTED"
    assert gateway.queue_depth("RetryQueue") == 0


def test_td_403_is_502_and_record_parked_on_dlq(gateway: Gateway) -> None:
    secret_id = gateway.env["TD_SECRET_ID"]
    # The key is rotated at the vendor: ours is now wrong.
    boto3.client("secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({"write_key": "revoked-key"})
    )

    response = postback(gateway, {"user_id": "u-6"})

    assert response["statusCode"] == 502
    body = problem(response)
    assert body["code"] == "UPSTREAM_AUTH"
    assert "revoked-key" not in response["body"]
    [parked] = gateway.messages("DeadLetterQueue")
    envelope = json.loads(parked["Body"])
    assert untimed([envelope["request"]["record"]]) == [{"user_id": "u-6"}]
    assert envelope["lastError"]["status"] == 403
    assert "credentials" in parked["MessageAttributes"]["reason"]["StringValue"]
    assert "revoked-key" not in parked["Body"]
    assert gateway.queue_depth("RetryQueue") == 0


def test_missing_secret_is_500_problem_without_trace(gateway: Gateway) -> None:
    boto3.client("secretsmanager").delete_secret(
        SecretId=gateway.env["TD_SECRET_ID"], ForceDeleteWithoutRecovery=True
    )

    response = postback(gateway, {"user_id": "u-7"})

    assert response["statusCode"] == 500
    body = problem(response)
    assert body["code"] == "SECRET_UNAVAILABLE"
    assert "Traceback" not in response["body"]
    assert gateway.td.requests == []


def test_unknown_route_is_404_problem(gateway: Gateway) -> None:
    event = event_for(Route("GET", "/v1/nothing"))
    response = gateway.invoke("PostbackFunction", event)

    assert response["statusCode"] == 404
    assert problem(response)["code"] == "ROUTE_NOT_FOUND"
