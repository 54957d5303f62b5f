"""The Rokt request model: Rokt's error codes, the body sent on, and the cache key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.core.errors import InvalidRequest, UnprocessableRequest
from gateway.vendors.rokt.request import ExperienceRequest

INTEGRATION = {
    "name": "UX Helper Web",
    "version": "1.0",
    "framework": "React",
    "platform": "Web",
    "layoutSchemaVersion": "2.1.0",
    "deviceLocale": "ja-JP",
    "deviceModel": "Pixel 8",
    "deviceType": "Phone",
    "operatingSystem": "Android",
    "operatingSystemVersion": "15",
    "packageName": "jp.example.shop",
    "packageVersion": "3.2.1",
}


def parse(body: Any) -> ExperienceRequest:
    return ExperienceRequest.from_body(json.dumps(body).encode())


def valid(**changes: Any) -> dict[str, Any]:
    return {"pageIdentifier": "p", "attributes": {}, "integration": dict(INTEGRATION), **changes}


def rokt_codes(body: Any) -> list[str]:
    with pytest.raises(UnprocessableRequest) as raised:
        parse(body)
    assert raised.value.status == 422
    assert raised.value.code == "ROKT_VALIDATION"
    return [e["code"] for e in raised.value.errors]


@pytest.mark.parametrize("field", sorted(INTEGRATION))
def test_each_integration_field_is_required_with_rokts_code(field: str) -> None:
    integration = {k: v for k, v in INTEGRATION.items() if k != field}
    expected = (
        "IntegrationPlatformInvalid"
        if field == "platform"
        else f"Integration{field[0].upper()}{field[1:]}NotProvided"
    )

    assert rokt_codes(valid(integration=integration)) == [expected]


def test_messages_name_the_field_as_rokt_does() -> None:
    with pytest.raises(UnprocessableRequest) as raised:
        parse(valid(pageIdentifier=""))
    [error] = raised.value.errors
    assert error == {
        "code": "PageIdentifierNotProvided",
        "message": "PageIdentifier is required",
        "pointer": "/pageIdentifier",
    }


def test_integration_that_is_not_an_object_reports_every_field() -> None:
    assert len(rokt_codes(valid(integration="iOS"))) == len(INTEGRATION)


def test_non_object_body_is_invalid_request_payload() -> None:
    with pytest.raises(InvalidRequest) as raised:
        ExperienceRequest.from_body(b"[]")
    assert raised.value.status == 400
    assert raised.value.errors[0]["code"] == "InvalidRequestPayload"


def test_rokt_body_leaves_out_the_cache_key_and_keeps_unknown_fields() -> None:
    request = parse(valid(cacheKey={"transactionId": "t", "userId": "u"}, future="x"))

    assert request.rokt_body() == valid(future="x")


def test_cache_id_is_a_digest_of_transaction_user_and_device_type() -> None:
    def cache_id(**changes: Any) -> str | None:
        integration = {**INTEGRATION, **changes.pop("integration", {})}
        key = {"transactionId": "t-1", "userId": "u-1", **changes}
        return parse(valid(cacheKey=key, integration=integration)).cache_id()

    base = cache_id()
    assert base is not None
    assert len(base) == 64
    assert "u-1" not in base
    assert cache_id() == base
    assert cache_id(transactionId="t-2") != base
    assert cache_id(userId="u-2") != base
    assert cache_id(integration={"deviceType": "Tablet"}) != base
    # Other context does not split the cache entry.
    assert cache_id(integration={"deviceModel": "Pixel 9"}) == base
    assert parse(valid()).cache_id() is None
