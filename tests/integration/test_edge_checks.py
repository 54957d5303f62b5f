"""Who may call, and what they may reach: every check is made before any vendor call.
Reproduces the open relay: a text/plain cross-site post to a database and table of the caller's
choosing was delivered to TD."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devserver.apigw_event import event_for
from devserver.template import Route
from tests.integration.conftest import Gateway

POSTBACK = Route("POST", "/v1/postback/{database}/{table}")
PERSONALIZATION = Route("POST", "/v1/personalization/{database}/{table}")
ROKT = Route("POST", "/v1/rokt/experiences", "AWS_IAM")
OPT_OUT = Route("PUT", "/v1/richrelevance/users/{userId}/opt-out", "AWS_IAM")


def call(
    gateway: Gateway,
    function: str,
    route: Route,
    params: dict[str, str],
    headers: dict[str, str],
    body: Any = None,
) -> dict[str, Any]:
    event = event_for(
        route, path_parameters=params, headers=headers, body=json.dumps(body or {"a": 1})
    )
    return gateway.invoke(function, event)


def code(response: dict[str, Any]) -> str:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    found: str = json.loads(response["body"])["code"]
    return found


JSON = {"content-type": "application/json"}


def test_the_open_relay_is_closed(gateway: Gateway) -> None:
    response = call(
        gateway,
        "PostbackFunction",
        POSTBACK,
        {"database": "any_db_i_choose", "table": "any_table_i_choose"},
        {"content-type": "text/plain", "origin": "https://evil.example"},
        {"user_id": "forged", "amount": 999999},
    )
    assert response["statusCode"] == 403
    assert code(response) == "ORIGIN_NOT_ALLOWED"
    assert gateway.td.requests == []


@pytest.mark.parametrize(
    ("database", "table", "status", "expected"),
    [
        ("web_events", "pageviews", 200, None),
        ("web_events", "anything_else", 200, None),  # web_events.* is allowed
        ("any_db_i_choose", "pageviews", 403, "DESTINATION_NOT_ALLOWED"),
        ("bad-name", "pageviews", 400, "INVALID_DATABASE_NAME"),  # names first
    ],
)
def test_postback_destinations_are_an_allow_list(
    gateway: Gateway, database: str, table: str, status: int, expected: str | None
) -> None:
    response = call(
        gateway, "PostbackFunction", POSTBACK, {"database": database, "table": table}, JSON
    )
    assert response["statusCode"] == status
    if expected is not None:
        assert code(response) == expected
        assert gateway.td.requests == []


def test_an_empty_allow_list_allows_nothing(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTBACK_DESTINATIONS", "")
    params = {"database": "web_events", "table": "pageviews"}
    response = call(gateway, "PostbackFunction", POSTBACK, params, JSON)
    assert response["statusCode"] == 403
    assert code(response) == "DESTINATION_NOT_ALLOWED"


def test_personalization_reads_only_its_destinations(gateway: Gateway) -> None:
    params = {"database": "victims_db", "table": "profiles"}
    response = call(
        gateway, "PersonalizationFunction", PERSONALIZATION, params, JSON, {"td_client_id": "v"}
    )
    assert response["statusCode"] == 403
    assert code(response) == "DESTINATION_NOT_ALLOWED"
    assert gateway.p13n.requests == []


@pytest.mark.parametrize(
    ("function", "route", "params"),
    [
        ("PostbackFunction", POSTBACK, {"database": "web_events", "table": "pageviews"}),
        ("PersonalizationFunction", PERSONALIZATION, {"database": "web_p13n", "table": "pv"}),
        ("RoktExperienceFunction", ROKT, {}),
        ("RichRelevanceFunction", OPT_OUT, {"userId": "u-1"}),
    ],
)
@pytest.mark.parametrize(
    ("headers", "status", "expected"),
    [
        ({"origin": "https://evil.example", **JSON}, 403, "ORIGIN_NOT_ALLOWED"),
        ({"origin": "http://127.0.0.1:3000", "content-type": "text/plain"}, 415, None),
        ({"content-type": "application/x-www-form-urlencoded"}, 415, None),
        ({}, 415, None),
    ],
)
def test_every_route_refuses_other_origins_and_non_json_bodies(
    gateway: Gateway,
    function: str,
    route: Route,
    params: dict[str, str],
    headers: dict[str, str],
    status: int,
    expected: str | None,
) -> None:
    response = call(gateway, function, route, params, headers)
    assert response["statusCode"] == status
    assert code(response) == (expected or "UNSUPPORTED_MEDIA_TYPE")
    assert gateway.td.requests == gateway.p13n.requests == gateway.rokt.requests == []
    assert gateway.rr.requests == []


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/vnd.treasuredata.v1+json"],
)
def test_json_media_types_from_an_allowed_origin_are_accepted(
    gateway: Gateway, content_type: str
) -> None:
    headers = {"origin": "http://127.0.0.1:3000", "content-type": content_type}
    params = {"database": "web_events", "table": "pageviews"}
    assert call(gateway, "PostbackFunction", POSTBACK, params, headers)["statusCode"] == 200


@pytest.mark.parametrize("user_id", [".", ".."])
def test_dot_segment_user_ids_never_reach_the_vendor(gateway: Gateway, user_id: str) -> None:
    # Was PUT {base}/profile-command/v1/ with the bearer token (`..` resolved by the client).
    response = call(
        gateway, "RichRelevanceFunction", OPT_OUT, {"userId": user_id}, JSON, {"enableOptOut": True}
    )
    assert response["statusCode"] == 400
    assert code(response) == "INVALID_USER_ID"
    assert gateway.rr.requests == []


def _keyed_opt_out(gateway: Gateway, caller: str, choice: bool) -> dict[str, Any]:
    event = event_for(
        OPT_OUT,
        path_parameters={"userId": f"user-of-{caller}"},
        headers={**JSON, "idempotency-key": "order-1001"},  # a predictable key
        body=json.dumps({"enableOptOut": choice}),
        iam_caller=caller,
    )
    return gateway.invoke("RichRelevanceFunction", event)


def test_an_idempotency_key_belongs_to_its_caller(gateway: Gateway) -> None:
    # Was global: the first caller of a key made everyone else's write 422 for 24 h.
    assert _keyed_opt_out(gateway, "squatter", True)["statusCode"] == 200
    real = _keyed_opt_out(gateway, "back-office", False)
    assert real["statusCode"] == 200
    assert "Idempotency-Replayed" not in real["headers"]
    again = _keyed_opt_out(gateway, "back-office", False)
    assert again["headers"]["Idempotency-Replayed"] == "true"  # its own key still works
