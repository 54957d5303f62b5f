"""PersonalizationFunction against moto and the TD personalization sandbox: every error code of
TD's document, the in-line retry, and the queued re-ingestion drained by RetryFunction."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from devserver.apigw_event import event_for
from devserver.template import Route
from devserver.vendors.td_personalization import EXAMPLE_PERSONALIZATION
from tests.integration.conftest import Gateway
from tests.integration.test_postback import problem

ROUTE = Route("POST", "/v1/personalization/{database}/{table}")
DATABASE, TABLE = "web_p13n", "page_views"
VND_JSON = "application/vnd.treasuredata.v1+json"

CALLER_CODES = [3004, 3005, 3006, 3007, 3008, 3009]  # 3005-3009: not in TD's document
TOKEN_CODES = [3000, 3001, 3002, 3003]
THROTTLE_CODES = [2003, 2013]
# The document's 500 codes, plus codes of its ranges it does not describe (2016, 3011).
SERVER_CODES = [9999, 1001, 1002, 1003, 1004, 1005, 2001, 2002, 2011, 2012, 2014, 2015, 2021]
SERVER_CODES += [3010, 2016, 3011]


def personalize(
    gateway: Gateway, body: Any, database: str = DATABASE, table: str = TABLE
) -> dict[str, Any]:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    event = event_for(
        ROUTE,
        path_parameters={"database": database, "table": table},
        headers={"content-type": "application/json"},
        body=raw,
    )
    return gateway.invoke("PersonalizationFunction", event)


def set_td_secret(gateway: Gateway, **values: str) -> None:
    secret = {"write_key": "sandbox-td-write-key", **values}
    boto3.client("secretsmanager").put_secret_value(
        SecretId=gateway.env["TD_SECRET_ID"], SecretString=json.dumps(secret)
    )


# --- accepted ----------------------------------------------------------------------------------


def test_event_reaches_td_with_the_documents_headers(gateway: Gateway) -> None:
    response = personalize(gateway, {"td_client_id": "c-1", "time": 1764000000, "uuid": "e-1"})

    assert response["statusCode"] == 204
    assert response["body"] == ""
    assert "Content-Type" not in response["headers"]
    [sent] = gateway.p13n.received
    assert sent.path == f"/{DATABASE}/{TABLE}"
    assert sent.header("Content-Type") == VND_JSON
    assert sent.header("WP13n-Token") == "1/8/sandbox-p13n-token"
    assert sent.header("Authorization") == "TD1 1/sandbox-td-api-key"
    assert sent.json() == {"td_client_id": "c-1", "time": 1764000000, "uuid": "e-1"}
    assert gateway.queue_depth("RetryQueue") == 0


def test_time_and_uuid_are_filled_when_absent(gateway: Gateway) -> None:
    before = int(time.time())
    assert personalize(gateway, {"td_client_id": "c-2"})["statusCode"] == 204
    assert personalize(gateway, {"td_client_id": "c-2", "time": None})["statusCode"] == 204
    after = int(time.time())

    first, second = gateway.p13n.events(DATABASE, TABLE)
    for event in (first, second):
        assert event["td_client_id"] == "c-2"
        assert before <= event["time"] <= after
        assert isinstance(event["time"], int)
        assert uuid.UUID(event["uuid"]).version == 4
    assert first["uuid"] != second["uuid"]


def test_personalization_is_passed_through(gateway: Gateway) -> None:
    response = personalize(
        gateway, {"td_client_id": "c-3"}, "personalization__database", "preferences_table"
    )

    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == VND_JSON
    assert json.loads(response["body"]) == EXAMPLE_PERSONALIZATION


@pytest.mark.parametrize("text", ["ÄÖÜ", "日本語のオファー", "Zürich"])
def test_personalization_text_reaches_the_caller_as_td_encoded_it(
    gateway: Gateway, text: str
) -> None:
    # TD's media type names no charset: JSON's own, UTF-8, is the only reading. A guess (what
    # requests does for a type it does not know) read short German text as Korean CP949.
    answer = {"offers": {"hero": {"attributes": {"headline": text}}}}
    gateway.p13n.personalizations[(DATABASE, TABLE)] = answer

    response = personalize(gateway, {"td_client_id": "c-4"})

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == answer


# --- refused before calling TD -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("database", "table", "code"),
    [
        ("Web_p13n", TABLE, "INVALID_DATABASE_NAME"),  # TD's p13n rule is lower case only
        ("ab", TABLE, "INVALID_DATABASE_NAME"),  # at least 3 characters
        ("web-p13n", TABLE, "INVALID_DATABASE_NAME"),
        (DATABASE, "x" * 129, "INVALID_TABLE_NAME"),  # at most 128
        (DATABASE, "page views", "INVALID_TABLE_NAME"),
        (DATABASE, "..%2Fadmin", "INVALID_TABLE_NAME"),
    ],
)
def test_bad_names_are_400_without_calling_td(
    gateway: Gateway, database: str, table: str, code: str
) -> None:
    response = personalize(gateway, {"a": 1}, database=database, table=table)

    assert response["statusCode"] == 400
    assert problem(response)["code"] == code
    assert gateway.p13n.requests == []


@pytest.mark.parametrize(
    ("body", "code"),
    [("{", "INVALID_JSON"), ("[1]", "BODY_NOT_OBJECT"), ("", "EMPTY_BODY")],
)
def test_bad_bodies_are_400_without_calling_td(gateway: Gateway, body: str, code: str) -> None:
    response = personalize(gateway, body)

    assert response["statusCode"] == 400
    assert problem(response)["code"] == code
    assert gateway.p13n.requests == []


def test_secret_without_personalization_keys_is_500_without_calling_td(gateway: Gateway) -> None:
    set_td_secret(gateway)  # write_key only

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 500
    assert problem(response)["code"] == "SECRET_INVALID"
    assert gateway.p13n.requests == []


def test_region_without_a_documented_host_is_a_configuration_error(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TD_P13N_ENDPOINT")
    monkeypatch.setenv("TD_REGION", "ap02")

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 500
    assert problem(response)["code"] == "P13N_REGION_UNSUPPORTED"


# --- TD's 400 codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", CALLER_CODES)
def test_event_codes_are_400_with_td_code(gateway: Gateway, code: int) -> None:
    gateway.p13n.add_fault(code=code, count=1)

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 400
    body = problem(response)
    assert body["code"] == f"TD_{code}"
    assert "rejected the event" in body["detail"]
    assert len(gateway.p13n.requests) == 1
    assert gateway.queue_depth("RetryQueue") == 0
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_invalid_event_is_td_3004_from_the_sandbox_itself(gateway: Gateway) -> None:
    response = personalize(gateway, {"time": "yesterday"})

    assert response["statusCode"] == 400
    assert problem(response)["code"] == "TD_3004"


@pytest.mark.parametrize("code", TOKEN_CODES)
def test_token_codes_are_502_ours_and_the_event_is_parked(gateway: Gateway, code: int) -> None:
    gateway.p13n.add_fault(code=code, count=2)

    response = personalize(gateway, {"td_client_id": "c-4"})

    assert response["statusCode"] == 502
    body = problem(response)
    assert body["code"] == f"TD_{code}"
    assert "gateway's configuration" in body["detail"]
    # Repeated once with the secret read again (a rotated token), never retried beyond that.
    assert len(gateway.p13n.requests) == 2
    [parked] = gateway.messages("DeadLetterQueue")
    envelope = json.loads(parked["Body"])
    assert envelope["kind"] == "td.personalization"
    assert envelope["request"]["event"]["td_client_id"] == "c-4"
    assert envelope["lastError"]["code"] == f"TD_{code}"
    assert "credentials" in parked["MessageAttributes"]["reason"]["StringValue"]
    assert gateway.queue_depth("RetryQueue") == 0


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", 3000),
        ("1/8/revoked-key", 3001),
        ("2/8/revoked-key", 3002),
        ("revoked-key", 3003),
    ],
)
def test_misconfigured_tokens_are_refused_by_the_sandbox(
    gateway: Gateway, token: str, code: int
) -> None:
    set_td_secret(gateway, api_key="1/sandbox-td-api-key", wp13n_token=token)

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 502
    assert problem(response)["code"] == f"TD_{code}"
    assert "revoked-key" not in response["body"]


def test_rejected_api_key_is_upstream_auth(gateway: Gateway) -> None:
    set_td_secret(gateway, api_key="1/revoked-key", wp13n_token="1/8/sandbox-p13n-token")

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 502
    assert problem(response)["code"] == "UPSTREAM_AUTH"


# --- TD's 429 codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", THROTTLE_CODES)
def test_throttle_codes_are_429_with_retry_after(gateway: Gateway, code: int) -> None:
    gateway.p13n.add_fault(code=code, count=1)

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "1"
    assert problem(response)["code"] == f"TD_{code}"
    assert len(gateway.p13n.requests) == 1
    assert gateway.queue_depth("RetryQueue") == 0


def test_tds_own_retry_after_is_passed_on(gateway: Gateway) -> None:
    gateway.p13n.add_fault(code=2003, count=1, headers={"Retry-After": "7"})

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "7"


# --- TD's 500 codes: one in-line retry, then the event queued: 204 (degraded) or 503 -------------


@pytest.mark.parametrize("code", SERVER_CODES)
def test_server_code_once_is_retried_in_line(gateway: Gateway, code: int) -> None:
    gateway.p13n.add_fault(code=code, count=1)

    response = personalize(gateway, {"td_client_id": "c-5"})

    assert response["statusCode"] == 204
    first, second = gateway.p13n.requests
    assert first.body == second.body  # the same event, same uuid
    assert len(gateway.p13n.events(DATABASE, TABLE)) == 1
    assert gateway.queue_depth("RetryQueue") == 0


@pytest.mark.parametrize("code", SERVER_CODES)
def test_server_code_twice_degrades_to_204_with_the_event_queued(
    gateway: Gateway, code: int
) -> None:
    gateway.p13n.add_fault(code=code, count=2)

    response = personalize(gateway, {"td_client_id": "c-6"})

    assert response["statusCode"] == 204
    assert response["body"] == ""
    [envelope] = gateway.envelopes("RetryQueue")
    assert response["headers"]["Gateway-Status"] == f"queued; retryId={envelope['id']}"
    assert envelope["kind"] == "td.personalization"
    assert envelope["request"]["event"] == gateway.p13n.requests[0].json()
    assert len(gateway.p13n.requests) == 2


@pytest.mark.parametrize("code", SERVER_CODES)
def test_server_code_twice_is_503_with_the_event_queued_when_configured(
    gateway: Gateway, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONALIZATION_ON_FAILURE", "error")
    gateway.p13n.add_fault(code=code, count=2)

    response = personalize(gateway, {"td_client_id": "c-6"})

    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "2"
    body = problem(response)
    assert body["code"] == f"TD_{code}"
    assert "queued for re-ingestion" in body["detail"]
    [envelope] = gateway.envelopes("RetryQueue")
    assert body["errors"] == [
        {"detail": "event queued for re-ingestion", "retryId": envelope["id"]}
    ]
    assert envelope["kind"] == "td.personalization"
    sent = gateway.p13n.requests[0].json()
    assert envelope["request"] == {"database": DATABASE, "table": TABLE, "event": sent}
    assert envelope["lastError"] == {
        "status": 500,
        "code": f"TD_{code}",
        "detail": envelope["lastError"]["detail"],
    }
    assert len(gateway.p13n.requests) == 2


@pytest.mark.parametrize(
    "fault",
    [{"status": 502}, {"status": 503}, {"mode": "timeout", "latency_ms": 1500}, {"mode": "reset"}],
)
def test_transport_failures_twice_are_503_upstream_unavailable_queued(
    gateway: Gateway, fault: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONALIZATION_ON_FAILURE", "error")
    gateway.p13n.add_fault(count=2, **fault)

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 503
    assert problem(response)["code"] == "UPSTREAM_UNAVAILABLE"
    assert gateway.queue_depth("RetryQueue") == 1


def test_queued_event_is_reingested_by_the_retry_function(gateway: Gateway) -> None:
    gateway.p13n.add_fault(code=1003, count=3)  # both attempts and the first replay fail

    response = personalize(gateway, {"td_client_id": "c-7"})
    assert response["statusCode"] == 204
    assert response["headers"]["Gateway-Status"].startswith("queued; retryId=")
    sent = gateway.p13n.requests[0].json()

    gateway.drain()

    assert gateway.p13n.events(DATABASE, TABLE) == [sent]  # once, with its first uuid and time
    assert len(gateway.p13n.requests) == 4
    assert gateway.queue_depth("RetryQueue") == 0
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_queued_event_refused_on_replay_is_parked(gateway: Gateway) -> None:
    gateway.p13n.add_fault(code=9999, count=2)
    assert personalize(gateway, {"td_client_id": "c-8"})["statusCode"] == 204
    gateway.p13n.add_fault(code=3004, count=1)

    gateway.drain()

    [parked] = gateway.messages("DeadLetterQueue")
    assert json.loads(parked["Body"])["lastError"]["code"] == "TD_3004"
    assert parked["MessageAttributes"]["reason"]["StringValue"].startswith("permanent failure")
    assert gateway.p13n.events(DATABASE, TABLE) == []


def test_server_code_with_queue_unreachable_is_503_with_another_code(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.p13n.add_fault(code=1001, count=2)
    monkeypatch.setenv("RETRY_QUEUE_URL", gateway.refs["RetryQueue"] + "-does-not-exist")

    response = personalize(gateway, {"a": 1})

    assert response["statusCode"] == 503
    assert problem(response)["code"] == "RETRY_QUEUE_UNAVAILABLE"
    assert response["headers"]["Retry-After"]
    assert gateway.queue_depth("RetryQueue") == 0


@pytest.mark.parametrize(("on_failure", "ingested"), [("degrade", 1), ("error", 2)])
def test_a_client_that_retries_503s_sends_no_duplicate_by_default(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, on_failure: str, ingested: int
) -> None:
    """As urllib3's Retry(status_forcelist=[503]) does: a 503 is sent again (a new event, with a
    new uuid); the degraded 204 is not. Reproduces duplicated events under a TD outage."""
    monkeypatch.setenv("PERSONALIZATION_ON_FAILURE", on_failure)
    gateway.p13n.add_fault(code=1003, count=2)  # this lookup's two attempts fail; TD recovers

    statuses = []
    for _ in range(3):  # the client's own retries
        response = personalize(gateway, {"td_client_id": "c-9"})
        statuses.append(response["statusCode"])
        if response["statusCode"] != 503:
            break
    gateway.drain()

    events = gateway.p13n.events(DATABASE, TABLE)
    assert len(events) == ingested
    assert len({e["uuid"] for e in events}) == ingested
    assert statuses[-1] in (200, 204)
