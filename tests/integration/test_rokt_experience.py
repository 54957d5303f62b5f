"""RoktExperienceFunction against moto (secrets, the DynamoDB cache) and the Rokt sandbox."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from devserver.apigw_event import event_for
from devserver.lambda_context import LambdaContext
from devserver.template import Route
from devserver.vendors.rokt import EMPTY, SUCCESS
from tests.integration.conftest import Gateway
from tests.support.tcp_proxy import SwitchableProxy

ROUTE = Route("POST", "/v1/rokt/experiences", "AWS_IAM")
INTEGRATION = {
    "name": "UX Helper iOS",
    "version": "1.0",
    "framework": "Swift",
    "platform": "iOS",
    "layoutSchemaVersion": "2.1.0",
    "packageVersion": "1.0.0",
    "packageName": "com.partner",
    "operatingSystem": "iOS",
    "operatingSystemVersion": "18",
    "deviceType": "Phone",
    "deviceModel": "iPhone",
    "deviceLocale": "en-AU",
    "metadata": {"IsCharging": "true"},
}
CACHE_KEY = {"transactionId": "txn-1", "userId": "u-1"}


def rokt_request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "attributes": {"email": "test@rokt.com", "locale": "en-AU"},
        "pageIdentifier": "checkout_confirmation",
        "integration": dict(INTEGRATION),
    }
    body.update(changes)
    return body


def event(body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return event_for(
        ROUTE,
        headers={"content-type": "application/json", **(headers or {})},
        body=raw,
        iam_caller="AIDATESTCALLER",
    )


def fetch(gateway: Gateway, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return gateway.invoke("RoktExperienceFunction", event(body, headers))


def problem(response: dict[str, Any]) -> dict[str, Any]:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response["body"])
    assert body["status"] == response["statusCode"]
    return body


def codes(response: dict[str, Any]) -> list[str]:
    return [e["code"] for e in problem(response)["errors"]]


def cache_table(gateway: Gateway) -> str:
    return gateway.refs["ExperienceCacheTable"]


def cache_items(gateway: Gateway) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=cache_table(gateway))[
        "Items"
    ]
    return items


# --- success --------------------------------------------------------------------------------


def test_experience_is_fetched_with_the_credentials_and_passed_through(gateway: Gateway) -> None:
    response = fetch(gateway, rokt_request(), headers={"x-correlation-id": "corr-42"})

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == SUCCESS
    assert response["headers"]["rokt-session-id"] == SUCCESS["sessionId"]
    assert response["headers"]["rokt-account-id"] == "106"
    [sent] = gateway.rokt.received
    assert sent.path == "/v2/partner/experiences"
    assert sent.header("rokt-pub-id") == "sandbox-rokt-pub-id"
    assert sent.header("rokt-secret") == "sandbox-rokt-secret"
    assert sent.header("rokt-tag-id") == "3068704822624787054"
    assert sent.header("content-type") == "application/json"
    assert sent.header("accept") == "application/json"
    assert sent.header("rokt-client-unique-id") == "corr-42"
    assert sent.json() == rokt_request()


def test_caller_session_and_extra_fields_go_to_rokt_without_the_cache_key(
    gateway: Gateway,
) -> None:
    body = rokt_request(sessionId="s-existing", cacheKey=CACHE_KEY, experiment="b")

    response = fetch(gateway, body)

    assert response["statusCode"] == 200
    assert response["headers"]["rokt-session-id"] == "s-existing"
    sent = gateway.rokt.received[0].json()
    assert sent == rokt_request(sessionId="s-existing", experiment="b")


def test_client_unique_id_is_api_gateways_request_id_without_a_header(gateway: Gateway) -> None:
    request_event = event(rokt_request())

    gateway.invoke("RoktExperienceFunction", request_event)

    sent = gateway.rokt.received[0]
    assert sent.header("rokt-client-unique-id") == request_event["requestContext"]["requestId"]


def test_unsafe_correlation_header_is_replaced_by_a_fresh_id(gateway: Gateway) -> None:
    fetch(gateway, rokt_request(), headers={"x-correlation-id": "a b" + "x" * 200})

    sent_id = gateway.rokt.received[0].header("rokt-client-unique-id")
    assert sent_id
    assert len(sent_id) == 36


def test_empty_experience_is_a_success(gateway: Gateway) -> None:
    response = fetch(gateway, rokt_request(attributes={"locale": "en-AU"}))

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == EMPTY
    assert response["headers"]["rokt-session-id"] == EMPTY["sessionId"]


# --- the caller's input, answered without calling Rokt --------------------------------------

ROKT_DOCUMENTED_CODES = [
    "IntegrationNameNotProvided",
    "IntegrationVersionNotProvided",
    "IntegrationFrameworkNotProvided",
    "IntegrationPlatformInvalid",
    "IntegrationLayoutSchemaVersionNotProvided",
    "IntegrationDeviceLocaleNotProvided",
    "IntegrationDeviceModelNotProvided",
    "IntegrationDeviceTypeNotProvided",
    "IntegrationOperatingSystemNotProvided",
    "IntegrationOperatingSystemVersionNotProvided",
    "IntegrationPackageNameNotProvided",
    "IntegrationPackageVersionNotProvided",
]


def test_missing_fields_are_422_with_rokts_codes_without_calling_rokt(gateway: Gateway) -> None:
    response = fetch(gateway, {"attributes": {"email": "a@b.c"}})

    assert response["statusCode"] == 422
    assert problem(response)["code"] == "ROKT_VALIDATION"
    assert sorted(codes(response)) == sorted([*ROKT_DOCUMENTED_CODES, "PageIdentifierNotProvided"])
    assert gateway.rokt.requests == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"pageIdentifier": ""}, "PageIdentifierNotProvided"),
        ({"pageIdentifier": 7}, "PageIdentifierInvalid"),
        ({"attributes": None}, "AttributesInvalid"),
        ({"attributes": {"age": 30}}, "AttributesInvalid"),
        ({"sessionId": 12}, "SessionIdInvalid"),
        ({"integration": {**INTEGRATION, "deviceType": ""}}, "IntegrationDeviceTypeNotProvided"),
        ({"integration": {**INTEGRATION, "platform": None}}, "IntegrationPlatformInvalid"),
        ({"integration": {**INTEGRATION, "metadata": {"n": 1}}}, "IntegrationMetadataInvalid"),
        ({"cacheKey": {"transactionId": "t"}}, "CacheKeyUserIdNotProvided"),
    ],
)
def test_each_invalid_field_has_its_code(
    gateway: Gateway, change: dict[str, Any], code: str
) -> None:
    response = fetch(gateway, rokt_request(**change))

    assert response["statusCode"] == 422
    assert codes(response) == [code]
    assert gateway.rokt.requests == []


def test_missing_attributes_are_not_provided(gateway: Gateway) -> None:
    body = rokt_request()
    del body["attributes"]

    assert codes(fetch(gateway, body)) == ["AttributesNotProvided"]


@pytest.mark.parametrize("body", ['{"pageIdentifier": "x",', "[1]", "", b"\xff{}"])
def test_malformed_body_is_400_invalid_request_payload(gateway: Gateway, body: str) -> None:
    response = fetch(gateway, body)

    assert response["statusCode"] == 400
    assert codes(response) == ["InvalidRequestPayload"]
    assert gateway.rokt.requests == []


# --- Rokt's answers -------------------------------------------------------------------------


def test_unknown_platform_is_refused_before_rokt(gateway: Gateway) -> None:
    response = fetch(gateway, rokt_request(integration={**INTEGRATION, "platform": "Symbian"}))

    assert response["statusCode"] == 422
    assert codes(response) == ["IntegrationPlatformInvalid"]
    assert gateway.rokt.requests == []


def test_rokt_422_is_passed_on_with_its_errors(gateway: Gateway) -> None:
    rokt_422 = {
        "title": "Validation failed",
        "status": 422,
        "success": False,
        "errors": [
            {"code": "IntegrationPlatformInvalid", "message": "Integration.Platform is invalid"}
        ],
    }
    gateway.rokt.add_fault(status=422, count=1, body=rokt_422)
    response = fetch(gateway, rokt_request())

    assert response["statusCode"] == 422
    body = problem(response)
    assert body["code"] == "ROKT_VALIDATION"
    assert body["errors"] == [
        {"code": "IntegrationPlatformInvalid", "message": "Integration.Platform is invalid"}
    ]
    assert len(gateway.rokt.requests) == 1


def test_rokt_400_is_passed_on_with_its_errors(gateway: Gateway) -> None:
    rokt_400 = {
        "title": "BadRequest",
        "status": 400,
        "success": False,
        "errors": [{"code": "InvalidRequestPayload", "message": "invalid", "value": "x"}],
    }
    gateway.rokt.add_fault(status=400, count=1, body=rokt_400)

    response = fetch(gateway, rokt_request())

    assert response["statusCode"] == 400
    assert problem(response)["code"] == "UPSTREAM_REJECTED"
    assert problem(response)["errors"] == [{"code": "InvalidRequestPayload", "message": "invalid"}]


def _rotate_secret(gateway: Gateway, **changes: str) -> None:
    secret = {
        "public_id": "sandbox-rokt-pub-id",
        "secret": "sandbox-rokt-secret",
        "tag_id": "3068704822624787054",
    }
    boto3.client("secretsmanager").put_secret_value(
        SecretId=gateway.env["ROKT_SECRET_ID"], SecretString=json.dumps({**secret, **changes})
    )


@pytest.mark.parametrize("change", [{"secret": "revoked-key"}, {"tag_id": "revoked-key"}])
def test_rejected_credentials_are_502_upstream_auth(
    gateway: Gateway, change: dict[str, str]
) -> None:
    _rotate_secret(gateway, **change)

    response = fetch(gateway, rokt_request())

    assert response["statusCode"] == 502
    assert problem(response)["code"] == "UPSTREAM_AUTH"
    assert "revoked-key" not in response["body"]
    assert len(gateway.rokt.requests) == 1  # not retried
    assert gateway.queue_depth("RetryQueue") == 0  # a read: nothing to queue


def test_rokt_429_is_429_with_retry_after_and_not_retried(gateway: Gateway) -> None:
    gateway.rokt.add_fault(status=429, count=1, headers={"Retry-After": "3"})

    response = fetch(gateway, rokt_request())

    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "3"
    assert len(gateway.rokt.requests) == 1


# --- 5xx and timeouts: one retry after the delay ----------------------------------------------


@pytest.mark.parametrize(
    "fault", [{"status": 500}, {"status": 503}, {"mode": "timeout", "latency_ms": 1500}]
)
def test_one_failure_is_retried_after_one_second(gateway: Gateway, fault: dict[str, Any]) -> None:
    gateway.rokt.add_fault(count=1, **fault)

    response = fetch(gateway, rokt_request(), headers={"x-correlation-id": "corr-retry"})

    assert response["statusCode"] == 200
    first, second = gateway.rokt.requests
    # The second request left at least the vendor's 1 s after the first one had failed.
    assert second.received_at - first.received_at >= 1.0
    assert second.header("rokt-client-unique-id") == "corr-retry"
    assert first.body == second.body


def test_retry_waits_the_configured_delay(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROKT_RETRY_DELAY_SECONDS", "1.8")
    gateway.rokt.add_fault(status=502, count=1)

    assert fetch(gateway, rokt_request())["statusCode"] == 200
    first, second = gateway.rokt.requests
    assert second.received_at - first.received_at >= 1.8


def test_two_failures_are_503_after_exactly_one_retry(gateway: Gateway) -> None:
    gateway.rokt.add_fault(status=503, count=2)

    response = fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    assert response["statusCode"] == 503
    assert problem(response)["code"] == "UPSTREAM_UNAVAILABLE"
    assert len(gateway.rokt.requests) == 2
    assert cache_items(gateway) == []
    assert gateway.queue_depth("RetryQueue") == 0


def test_no_retry_when_the_deadline_leaves_no_time(gateway: Gateway) -> None:
    gateway.rokt.add_fault(status=503, count=1)
    handler = gateway.handler("RoktExperienceFunction")

    # 1.5 s left: the 1 s delay plus a margin leaves no room for a second attempt.
    response = handler(
        event(rokt_request()),
        LambdaContext(function_name="RoktExperienceFunction", timeout_seconds=1.5),
    )

    assert response["statusCode"] == 503
    assert len(gateway.rokt.requests) == 1


# --- cache ----------------------------------------------------------------------------------


def test_repeated_fetch_for_the_same_key_is_served_from_the_cache(gateway: Gateway) -> None:
    first = fetch(gateway, rokt_request(cacheKey=CACHE_KEY))
    second = fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    assert first["headers"]["x-gateway-cache"] == "miss"
    assert second["headers"]["x-gateway-cache"] == "hit"
    assert second["statusCode"] == 200
    assert json.loads(second["body"]) == SUCCESS
    assert second["headers"]["rokt-session-id"] == SUCCESS["sessionId"]
    assert second["headers"]["rokt-account-id"] == "106"
    assert len(gateway.rokt.requests) == 1


def test_the_cache_is_shared_by_every_instance(gateway: Gateway) -> None:
    from tests.conftest import reset_layer_state

    fetch(gateway, rokt_request(cacheKey=CACHE_KEY))
    reset_layer_state()  # another execution environment: nothing in memory

    assert fetch(gateway, rokt_request(cacheKey=CACHE_KEY))["headers"]["x-gateway-cache"] == "hit"
    assert len(gateway.rokt.requests) == 1


@pytest.mark.parametrize(
    "other",
    [
        {"cacheKey": {**CACHE_KEY, "transactionId": "txn-2"}},
        {"cacheKey": {**CACHE_KEY, "userId": "u-2"}},
        {"cacheKey": CACHE_KEY, "integration": {**INTEGRATION, "deviceType": "Tablet"}},
    ],
    ids=["transaction", "user", "device-type"],
)
def test_another_transaction_user_or_device_type_is_a_miss(
    gateway: Gateway, other: dict[str, Any]
) -> None:
    fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    response = fetch(gateway, rokt_request(**other))

    assert response["headers"]["x-gateway-cache"] == "miss"
    assert len(gateway.rokt.requests) == 2


def test_cache_entry_expires_after_the_ttl(gateway: Gateway) -> None:
    before = int(time.time())
    fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    [item] = cache_items(gateway)
    ttl = int(gateway.env["ROKT_CACHE_TTL_SECONDS"])
    assert before + ttl <= int(item["expiresAt"]["N"]) <= int(time.time()) + ttl
    assert "u-1" not in json.dumps(item["cacheKey"])  # the key is a digest


def test_expired_item_not_yet_deleted_by_dynamodb_is_a_miss(gateway: Gateway) -> None:
    fetch(gateway, rokt_request(cacheKey=CACHE_KEY))
    [item] = cache_items(gateway)
    # DynamoDB TTL deletes lazily: the item is past its expiry but still there.
    boto3.client("dynamodb").update_item(
        TableName=cache_table(gateway),
        Key={"cacheKey": item["cacheKey"]},
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )

    response = fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    assert response["headers"]["x-gateway-cache"] == "miss"
    assert len(gateway.rokt.requests) == 2
    [refreshed] = cache_items(gateway)
    assert int(refreshed["expiresAt"]["N"]) > time.time()


def test_unreadable_cache_entry_is_a_miss(gateway: Gateway) -> None:
    fetch(gateway, rokt_request(cacheKey=CACHE_KEY))
    [item] = cache_items(gateway)
    boto3.client("dynamodb").put_item(
        TableName=cache_table(gateway), Item={**item, "body": {"B": b"not zlib"}}
    )

    response = fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == SUCCESS
    assert len(gateway.rokt.requests) == 2


def test_empty_experience_is_not_cached(gateway: Gateway) -> None:
    body = rokt_request(attributes={"locale": "en-AU"}, cacheKey=CACHE_KEY)
    fetch(gateway, body)

    assert fetch(gateway, body)["headers"]["x-gateway-cache"] == "miss"
    assert cache_items(gateway) == []
    assert len(gateway.rokt.requests) == 2


def test_without_a_cache_key_nothing_is_cached(gateway: Gateway) -> None:
    response = fetch(gateway, rokt_request())

    assert "x-gateway-cache" not in response["headers"]
    assert cache_items(gateway) == []


def test_ttl_zero_disables_the_cache(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROKT_CACHE_TTL_SECONDS", "0")
    fetch(gateway, rokt_request(cacheKey=CACHE_KEY))
    fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    assert len(gateway.rokt.requests) == 2
    assert cache_items(gateway) == []


def test_cache_table_has_ttl_on_expires_at(gateway: Gateway) -> None:
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName=cache_table(gateway))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"


def test_cache_outage_does_not_fail_the_fetch_and_is_skipped_for_a_while(
    gateway: Gateway, dynamodb_proxy: SwitchableProxy
) -> None:
    dynamodb_proxy.up = False
    first = fetch(gateway, rokt_request(cacheKey=CACHE_KEY))
    assert first["statusCode"] == 200
    assert json.loads(first["body"]) == SUCCESS

    dynamodb_proxy.up = True
    second = fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    # Within the back-off the cache is neither read nor written.
    assert second["statusCode"] == 200
    assert second["headers"]["x-gateway-cache"] == "miss"
    assert cache_items(gateway) == []
    assert len(gateway.rokt.requests) == 2


def test_cache_is_used_again_after_the_back_off(
    gateway: Gateway, dynamodb_proxy: SwitchableProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROKT_CACHE_BACKOFF_SECONDS", "0")
    dynamodb_proxy.up = False
    assert fetch(gateway, rokt_request(cacheKey=CACHE_KEY))["statusCode"] == 200

    dynamodb_proxy.up = True
    fetch(gateway, rokt_request(cacheKey=CACHE_KEY))
    third = fetch(gateway, rokt_request(cacheKey=CACHE_KEY))

    assert third["headers"]["x-gateway-cache"] == "hit"
    assert len(gateway.rokt.requests) == 2
