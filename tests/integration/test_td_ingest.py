"""TD_JS_SDK_API=ingest: the TD JS SDK route delivers a request's events with one call of TD's
Data Ingestion API (the sandbox plays it on the records.in host's rules), through the same
delivery policy: one envelope per request, replayed whole, the gateway's key only."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.integration.conftest import Gateway
from tests.integration.test_td_js_sdk import PAGE_KEY, SDK_TYPE, queued_envelopes, sdk_post
from tests.support.records import untimed


@pytest.fixture
def ingesting(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("TD_JS_SDK_API", "ingest")  # read when the function first needs settings
    return gateway


def test_a_request_is_one_ingestion_call_with_the_gateways_key(ingesting: Gateway) -> None:
    events = [{"n": i, "td_url": "https://www.example.com/"} for i in range(3)]

    response = sdk_post(ingesting, {"events": events})

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["receipts"] == [{"status": "ok"}] * 3
    [sent] = ingesting.td.received
    assert (sent.method, sent.path) == ("POST", "/web_events/clicks")
    assert sent.header("Authorization") == "TD1 sandbox-td-write-key"
    assert sent.header("Content-Type") == SDK_TYPE
    assert PAGE_KEY.encode() not in sent.body
    assert untimed(ingesting.td.records("web_events", "clicks")) == events


def test_an_event_without_a_time_is_stamped_at_acceptance(ingesting: Gateway) -> None:
    sdk_post(ingesting, {"events": [{"n": 1}, {"n": 2, "time": 1764000000}]})

    first, second = ingesting.td.records("web_events", "clicks")
    assert isinstance(first["time"], int)  # the gateway's stamp
    assert second["time"] == 1764000000  # its own, untouched


def test_td_failing_queues_one_envelope_that_replays_the_whole_request(
    ingesting: Gateway,
) -> None:
    ingesting.td.add_fault(status=503, count=1)

    response = sdk_post(ingesting, {"events": [{"n": 0}, {"n": 1}]})

    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert [r["retryId"] for r in body["receipts"]] == [body["retryId"]] * 2
    [envelope] = queued_envelopes(ingesting)
    assert (envelope["id"], envelope["kind"]) == (body["retryId"], "td.ingest")
    assert [e["n"] for e in envelope["request"]["events"]] == [0, 1]
    assert all("time" in e for e in envelope["request"]["events"])  # stamped before queueing

    ingesting.drain()

    assert untimed(ingesting.td.records("web_events", "clicks")) == [{"n": 0}, {"n": 1}]
    assert len(ingesting.td.received) == 1  # one call delivered both


def test_a_wrong_key_is_a_silent_drop_on_the_ingestion_host(ingesting: Gateway) -> None:
    # The records.in host's rule, the reason this API is not the default.
    boto3.client("secretsmanager").put_secret_value(
        SecretId=ingesting.env["TD_SECRET_ID"], SecretString=json.dumps({"write_key": "revoked"})
    )

    response = sdk_post(ingesting, {"events": [{"n": 1}]})

    assert response["statusCode"] == 200
    assert ingesting.td.records("web_events", "clicks") == []
    assert len(ingesting.td.dropped) == 1


def test_repeated_idempotency_key_is_one_call(ingesting: Gateway) -> None:
    body = {"events": [{"n": 0}, {"n": 1}]}
    sdk_post(ingesting, body, headers={"idempotency-key": "batch-2"})
    again = sdk_post(ingesting, body, headers={"idempotency-key": "batch-2"})

    assert again["statusCode"] == 200
    assert again["headers"]["Idempotency-Replayed"] == "true"
    assert len(ingesting.td.received) == 1


def test_the_postback_default_still_makes_one_call_per_event(gateway: Gateway) -> None:
    sdk_post(gateway, {"events": [{"n": 0}, {"n": 1}]})

    assert [r.path for r in gateway.td.received] == ["/postback/v3/event/web_events/clicks"] * 2
