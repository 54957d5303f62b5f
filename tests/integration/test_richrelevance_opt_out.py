"""RichRelevanceFunction's opt-out route against moto and the RichRelevance sandbox: the token
life cycle (fetch, cache, refresh on invalid_token, refused credentials) and every outcome."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from devserver.vendors.richrelevance import (
    CONTENT_PREFIX,
    INVALID_GRANT,
    INVALID_TOKEN,
    PROFILE_PREFIX,
    RichRelevanceSandbox,
)
from gateway.vendors.richrelevance.oauth import TokenProvider
from tests.conftest import reset_layer_state
from tests.integration.conftest import Gateway
from tests.integration.rr_support import content, item, opt_out, peek, problem


def test_opt_out_reaches_the_vendor_with_a_bearer_token(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    response = opt_out(gateway, "user-1", {"enableOptOut": True})

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {}
    assert rr_sandbox.opted_out == {"user-1": True}
    [token_call] = rr_sandbox.token_requests(PROFILE_PREFIX)
    assert token_call.header("Content-Type") == "application/x-www-form-urlencoded"
    assert token_call.body.decode() == (
        "grant_type=client_credentials&client_id=sandbox-rr-client-id"
        "&client_secret=sandbox-rr-client-secret"
    )
    [call] = rr_sandbox.api_requests(PROFILE_PREFIX)
    assert call.method == "PUT"
    assert call.path == f"{PROFILE_PREFIX}/optOut/user-1"
    assert (call.header("Authorization") or "").startswith("Bearer rrsbx_")
    assert call.header("Content-Type") == "application/json"
    assert call.json() == {"type": "optOut", "enableOptOut": True}


def test_user_id_is_url_encoded_into_the_vendor_path(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    response = opt_out(gateway, "a/b c?d=é", {"enableOptOut": False})

    assert response["statusCode"] == 200
    [call] = rr_sandbox.api_requests(PROFILE_PREFIX)
    assert call.path == f"{PROFILE_PREFIX}/optOut/a%2Fb%20c%3Fd%3D%C3%A9"
    assert rr_sandbox.opted_out == {"a/b c?d=é": False}


def test_token_is_fetched_once_and_reused(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    for n in range(3):
        assert opt_out(gateway, f"user-{n}", {"enableOptOut": True})["statusCode"] == 200

    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 1
    tokens = {r.header("Authorization") for r in rr_sandbox.api_requests(PROFILE_PREFIX)}
    assert len(tokens) == 1


def test_each_api_base_url_has_its_own_token(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    assert opt_out(gateway, "user-1", {"enableOptOut": True})["statusCode"] == 200
    assert content(gateway, "PUT", [item(1)])["statusCode"] == 200
    assert opt_out(gateway, "user-2", {"enableOptOut": True})["statusCode"] == 200
    assert content(gateway, "PATCH", [{"id": "c-1", "rating": 4}])["statusCode"] == 200

    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 1
    assert len(rr_sandbox.token_requests(CONTENT_PREFIX)) == 1
    profile = {r.header("Authorization") for r in rr_sandbox.api_requests(PROFILE_PREFIX)}
    catalog = {r.header("Authorization") for r in rr_sandbox.api_requests(CONTENT_PREFIX)}
    assert len(profile) == len(catalog) == 1
    assert profile != catalog


def test_revoked_token_is_fetched_again_once_and_the_call_repeated(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    assert opt_out(gateway, "user-1", {"enableOptOut": True})["statusCode"] == 200
    rr_sandbox.revoke_tokens()

    response = opt_out(gateway, "user-2", {"enableOptOut": True})

    assert response["statusCode"] == 200
    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 2
    statuses = [c.path.rsplit("/", 1)[-1] for c in rr_sandbox.api_requests(PROFILE_PREFIX)]
    assert statuses == ["user-1", "user-2", "user-2"]  # the refused call, then its repeat
    assert rr_sandbox.opted_out == {"user-1": True, "user-2": True}


def test_expired_token_is_refreshed(gateway: Gateway, rr_sandbox: RichRelevanceSandbox) -> None:
    rr_sandbox.token_ttl_seconds = 3600
    assert opt_out(gateway, "user-1", {"enableOptOut": True})["statusCode"] == 200
    rr_sandbox.advance_clock(3601)

    assert opt_out(gateway, "user-2", {"enableOptOut": True})["statusCode"] == 200
    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 2


def test_token_is_renewed_before_its_expires_in_runs_out(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    context = gateway.context("RichRelevanceFunction")
    monkeypatch.setattr(context, "rr_tokens", TokenProvider(clock=lambda: now[0]))
    rr_sandbox.token_ttl_seconds = 3600

    assert opt_out(gateway, "user-1", {"enableOptOut": True})["statusCode"] == 200
    now[0] += 3600 - 61  # still usable: the margin is 60 s
    assert opt_out(gateway, "user-2", {"enableOptOut": True})["statusCode"] == 200
    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 1
    now[0] += 2  # within the margin: renewed before the vendor would refuse it
    assert opt_out(gateway, "user-3", {"enableOptOut": True})["statusCode"] == 200

    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 2
    assert len(rr_sandbox.api_requests(PROFILE_PREFIX)) == 3  # no call was refused


def test_token_refused_twice_is_upstream_auth_and_parked(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=401, body=INVALID_TOKEN, path=f"{PROFILE_PREFIX}/optOut")

    response = opt_out(gateway, "user-1", {"enableOptOut": True})

    assert response["statusCode"] == 502
    assert problem(response)["code"] == "UPSTREAM_AUTH"
    # A new token after the first refusal; then, before parking, the client credentials are
    # read again from Secrets Manager and one more token is tried.
    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 3
    assert len(rr_sandbox.api_requests(PROFILE_PREFIX)) == 3
    [parked] = gateway.messages("DeadLetterQueue")
    assert json.loads(parked["Body"])["kind"] == "rr.opt_out"
    assert "rejected credentials" in parked["MessageAttributes"]["reason"]["StringValue"]


def _replace_secret(gateway: Gateway, value: dict[str, str]) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId=gateway.refs["RichRelevanceSecret"], SecretString=json.dumps(value)
    )


def test_invalid_client_is_upstream_auth_and_parked(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    _replace_secret(gateway, {"client_id": "sandbox-rr-client-id", "client_secret": "revoked-key"})

    response = opt_out(gateway, "user-1", {"enableOptOut": True})

    assert response["statusCode"] == 502
    body = problem(response)
    assert body["code"] == "UPSTREAM_AUTH"
    assert "invalid_client" in body["detail"]
    assert "RR_SECRET_ID" in body["detail"]
    assert rr_sandbox.api_requests(PROFILE_PREFIX) == []
    [parked] = gateway.envelopes("DeadLetterQueue")
    assert isinstance(parked["request"].pop("sequence"), int)
    assert parked["request"] == {"user_id": "user-1", "enable_opt_out": True}
    assert "revoked-key" not in json.dumps(parked)
    assert gateway.queue_depth("RetryQueue") == 0


def test_unsupported_grant_type_is_upstream_auth(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=400, body=INVALID_GRANT, path=f"{PROFILE_PREFIX}/oauth2/token")

    response = opt_out(gateway, "user-1", {"enableOptOut": True})

    assert response["statusCode"] == 502
    assert problem(response)["code"] == "UPSTREAM_AUTH"
    assert "unsupported_grant_type" in problem(response)["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"enableOptOut": "true"},
        {"enableOptOut": 1},
        {"enableOptOut": None},
        {"enableOptOut": True, "type": "optOut"},
    ],
)
def test_invalid_body_is_422_without_calling_the_vendor(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, body: dict[str, Any]
) -> None:
    response = opt_out(gateway, "user-1", body)

    assert response["statusCode"] == 422
    found = problem(response)
    assert found["code"] == "INVALID_OPT_OUT"
    assert found["errors"][0]["pointer"].startswith("/")
    assert rr_sandbox.requests == []


@pytest.mark.parametrize(("body", "code"), [("[true]", "BODY_NOT_OBJECT"), ("{", "INVALID_JSON")])
def test_non_object_body_is_400(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, body: str, code: str
) -> None:
    response = opt_out(gateway, "user-1", body)

    assert response["statusCode"] == 400
    assert problem(response)["code"] == code
    assert rr_sandbox.requests == []


@pytest.mark.parametrize(
    ("fault", "path"),
    [
        ({"status": 503}, f"{PROFILE_PREFIX}/optOut"),
        ({"status": 500}, f"{PROFILE_PREFIX}/optOut"),
        ({"mode": "reset"}, f"{PROFILE_PREFIX}/optOut"),
        ({"status": 502}, f"{PROFILE_PREFIX}/oauth2/token"),
        ({"mode": "timeout", "latency_ms": 1500}, f"{PROFILE_PREFIX}/oauth2/token"),
    ],
)
def test_retryable_failure_is_queued_and_replayed(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, fault: dict[str, Any], path: str
) -> None:
    rr_sandbox.add_fault(count=1, path=path, **fault)

    response = opt_out(gateway, "user/7", {"enableOptOut": True})

    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["status"] == "queued"
    [envelope] = peek(gateway)
    assert envelope["id"] == body["retryId"]
    assert envelope["kind"] == "rr.opt_out"
    # With the sequence it was accepted at (its place in the user's order of choices).
    assert isinstance(envelope["request"].pop("sequence"), int)
    assert envelope["request"] == {"user_id": "user/7", "enable_opt_out": True}
    assert rr_sandbox.opted_out == {}

    gateway.drain()

    assert rr_sandbox.opted_out == {"user/7": True}
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_vendor_429_is_429_with_retry_after(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=429, count=1, headers={"Retry-After": "7"})

    response = opt_out(gateway, "user-1", {"enableOptOut": True})

    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "7"
    assert gateway.queue_depth("RetryQueue") == 0


def test_replay_refreshes_a_revoked_token(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=503, count=1, path=f"{PROFILE_PREFIX}/optOut")
    assert opt_out(gateway, "user-1", {"enableOptOut": False})["statusCode"] == 202
    rr_sandbox.revoke_tokens()

    gateway.drain()

    assert rr_sandbox.opted_out == {"user-1": False}
    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 2


def test_invalid_client_on_replay_parks_the_envelope_at_once(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=503, count=1, path=f"{PROFILE_PREFIX}/optOut")
    assert opt_out(gateway, "user-1", {"enableOptOut": True})["statusCode"] == 202
    _replace_secret(gateway, {"client_id": "someone-else", "client_secret": "revoked-key"})
    reset_layer_state()  # a fresh RetryFunction environment: no cached secret or token

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (1, 0)
    assert gateway.queue_depth("RetryQueue") == 0
    [parked] = gateway.messages("DeadLetterQueue")
    reason = parked["MessageAttributes"]["reason"]["StringValue"]
    assert reason.startswith("upstream rejected credentials")
    assert "invalid_client" in reason
    assert json.loads(parked["Body"])["attempt"] == 2
    assert rr_sandbox.opted_out == {}


def test_concurrent_replays_share_one_token(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=503, count=5, path=f"{PROFILE_PREFIX}/optOut")
    for n in range(5):
        assert opt_out(gateway, f"user-{n}", {"enableOptOut": True})["statusCode"] == 202
    reset_layer_state()  # RetryFunction starts without a token
    rr_sandbox.latency_ms = 50  # keeps the five replays in flight together

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (5, 0)
    assert len(rr_sandbox.opted_out) == 5
    assert len(rr_sandbox.token_requests(PROFILE_PREFIX)) == 2  # the handler's and the replays'
