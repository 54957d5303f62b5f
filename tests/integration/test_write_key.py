"""A wrong write key never looks like a success, and a rotated one parks nothing. Reproduces: a
key rotation parked five minutes of writes (the cached secret was used until its TTL ran out,
and a 403 never read it again)."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.integration.conftest import Gateway
from tests.integration.td_support import postback
from tests.support.records import untimed


def set_write_key(gateway: Gateway, key: str) -> None:
    secret = {"write_key": key, "api_key": "sandbox-td-api-key", "wp13n_token": "1/8/t"}
    boto3.client("secretsmanager").put_secret_value(
        SecretId=gateway.refs["TreasureDataSecret"], SecretString=json.dumps(secret)
    )


def test_a_rotated_key_is_read_again_and_nothing_is_parked(gateway: Gateway) -> None:
    assert postback(gateway, {"n": 1})["statusCode"] == 200  # the old key, now cached
    set_write_key(gateway, "rotated-key")
    gateway.td.set_write_keys(["rotated-key"])  # TD takes only the new key from now on

    assert postback(gateway, {"n": 2})["statusCode"] == 200

    assert [r["n"] for r in untimed(gateway.td.records("web_events", "pageviews"))] == [1, 2]
    assert gateway.queue_depth("DeadLetterQueue") == 0
    refused, accepted = gateway.td.requests[1:]
    assert refused.header("X-TD-Write-Key") != accepted.header("X-TD-Write-Key")


def test_a_wrong_key_on_the_documents_host_is_parked_after_the_re_read(gateway: Gateway) -> None:
    gateway.td.set_write_keys(["the-key-td-expects"])  # and the secret never gets it

    response = postback(gateway, {"n": 3})

    assert response["statusCode"] == 502
    assert json.loads(response["body"])["code"] == "UPSTREAM_AUTH"
    assert len(gateway.td.requests) == 2  # the call, and its repeat with the secret read again
    [parked] = gateway.messages("DeadLetterQueue")
    assert "rejected credentials" in parked["MessageAttributes"]["reason"]["StringValue"]


def test_a_replay_meeting_a_rotated_key_is_delivered(gateway: Gateway) -> None:
    gateway.td.add_fault(status=503, count=1)
    assert postback(gateway, {"n": 4})["statusCode"] == 202
    set_write_key(gateway, "rotated-key")
    gateway.td.set_write_keys(["rotated-key"])

    gateway.drain()

    assert [r["n"] for r in untimed(gateway.td.records("web_events", "pageviews"))] == [4]
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_on_the_v2_host_a_wrong_key_is_a_silent_drop_and_the_gateway_says_so(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TD_POSTBACK_V2", "true")
    gateway.td.set_mode("v2")
    gateway.td.set_write_keys(["the-key-td-expects"])

    first = postback(gateway, {"n": 5})
    second = postback(gateway, {"n": 6})

    # TD's v2 host answers 200 and drops the records: the gateway cannot tell, and warns once.
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert gateway.td.records("web_events", "pageviews") == []
    warnings = [r for r in caplog.records if "Postback v2 host" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelname == "WARNING"
