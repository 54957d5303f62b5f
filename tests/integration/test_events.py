"""Every file in events/ goes through its handler (as `sam local invoke -e` would send it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from devserver.vendors.richrelevance import RichRelevanceSandbox
from tests.conftest import EVENTS
from tests.integration.conftest import Gateway
from tests.support.records import untimed

# file -> (function, expected status or batch outcome)
EXPECTED: dict[str, tuple[str, Any]] = {
    "postback-accepted.json": ("PostbackFunction", 200),
    "postback-base64.json": ("PostbackFunction", 200),
    "postback-invalid-table.json": ("PostbackFunction", 400),
    "postback-invalid-json.json": ("PostbackFunction", 400),
    "postback-not-object.json": ("PostbackFunction", 400),
    "td-js-sdk-addrecord-accepted.json": ("PostbackFunction", 200),
    "rokt-experiences-accepted.json": ("RoktExperienceFunction", 200),
    "rokt-experiences-empty.json": ("RoktExperienceFunction", 200),
    "rokt-experiences-uncached.json": ("RoktExperienceFunction", 200),
    "rokt-experiences-invalid.json": ("RoktExperienceFunction", 422),
    "rokt-experiences-invalid-json.json": ("RoktExperienceFunction", 400),
    "retry-td-postback.json": ("RetryFunction", {"batchItemFailures": []}),
    "personalization-accepted.json": ("PersonalizationFunction", 204),
    "personalization-offers.json": ("PersonalizationFunction", 200),
    "personalization-invalid-table.json": ("PersonalizationFunction", 400),
    "personalization-not-object.json": ("PersonalizationFunction", 400),
    "personalization-public-accepted.json": ("PersonalizationFunction", 200),
    "retry-td-personalization.json": ("RetryFunction", {"batchItemFailures": []}),
    "retry-malformed.json": ("RetryFunction", {"batchItemFailures": []}),
    "richrelevance-opt-out-accepted.json": ("RichRelevanceFunction", 200),
    "richrelevance-opt-out-invalid-body.json": ("RichRelevanceFunction", 422),
    "richrelevance-content-put-accepted.json": ("RichRelevanceFunction", 200),
    "richrelevance-content-patch-accepted.json": ("RichRelevanceFunction", 200),
    "richrelevance-content-invalid-items.json": ("RichRelevanceFunction", 422),
    "retry-rr-opt-out.json": ("RetryFunction", {"batchItemFailures": []}),
    "retry-rr-content.json": ("RetryFunction", {"batchItemFailures": []}),
}


def test_every_event_file_has_an_expectation() -> None:
    assert sorted(p.name for p in EVENTS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_through_its_handler(
    gateway: Gateway, load_event: Callable[[str], dict[str, Any]], name: str
) -> None:
    function, expected = EXPECTED[name]
    event = load_event(name)

    response = gateway.invoke(function, event)

    if function == "RetryFunction":
        assert response == expected
        return
    assert response["statusCode"] == expected
    if expected >= 400:
        assert json.loads(response["body"])["code"]


def test_postback_events_deliver_their_records(
    gateway: Gateway, load_event: Callable[[str], dict[str, Any]]
) -> None:
    gateway.invoke("PostbackFunction", load_event("postback-accepted.json"))
    gateway.invoke("PostbackFunction", load_event("postback-base64.json"))

    records = untimed(gateway.td.records("web_events", "pageviews"))
    assert records[0]["user_id"] == "u-123"
    assert records[1] == {"user_id": "u-456", "note": "ümlaut ✓"}


def test_rokt_events_with_a_cache_key_hit_the_cache_and_without_reach_rokt(
    gateway: Gateway, load_event: Callable[[str], dict[str, Any]]
) -> None:
    def fetch(name: str) -> str | None:
        response = gateway.invoke("RoktExperienceFunction", load_event(name))
        assert response["statusCode"] == 200
        assert json.loads(response["body"])["plugins"]
        cache: str | None = response["headers"].get("x-gateway-cache")
        return cache

    cached = [fetch("rokt-experiences-accepted.json") for _ in range(2)]
    uncached = [fetch("rokt-experiences-uncached.json") for _ in range(2)]

    assert cached == ["miss", "hit"]
    assert uncached == [None, None]
    assert len(gateway.rokt.requests) == 3


def test_retry_events_deliver_and_park(
    gateway: Gateway, load_event: Callable[[str], dict[str, Any]]
) -> None:
    gateway.invoke("RetryFunction", load_event("retry-td-postback.json"))
    gateway.invoke("RetryFunction", load_event("retry-malformed.json"))

    assert gateway.td.records("web_events", "pageviews") == [
        {"user_id": "u-123", "url": "https://www.example.com/"}
    ]
    assert len(gateway.messages("DeadLetterQueue")) == 2


def test_personalization_events_reach_td(
    gateway: Gateway, load_event: Callable[[str], dict[str, Any]]
) -> None:
    accepted = gateway.invoke(
        "PersonalizationFunction", load_event("personalization-accepted.json")
    )
    offers = gateway.invoke("PersonalizationFunction", load_event("personalization-offers.json"))
    gateway.invoke("RetryFunction", load_event("retry-td-personalization.json"))

    assert accepted["statusCode"] == 204
    assert json.loads(offers["body"])["offers"]
    [filled, replayed] = gateway.p13n.events("web_p13n", "page_views")
    assert filled["td_client_id"] == "c-123"
    assert isinstance(filled["time"], int)
    assert filled["uuid"]
    assert replayed["uuid"] == "3f1c2b7a-9e84-4d0b-8a6e-5c2d1f0e9b44"
    assert gateway.p13n.events("personalization__database", "preferences_table")[0]["time"] == (
        1764000000
    )


def test_richrelevance_events_reach_the_sandbox(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, load_event: Callable[[str], dict[str, Any]]
) -> None:
    for name in (
        "richrelevance-opt-out-accepted.json",
        "richrelevance-content-put-accepted.json",
        "richrelevance-content-patch-accepted.json",
        "retry-rr-opt-out.json",
        "retry-rr-content.json",
    ):
        gateway.invoke(EXPECTED[name][0], load_event(name))

    assert rr_sandbox.opted_out == {"u-123": True}
    assert rr_sandbox.catalog["123"]["tags"] == ["fall", "fashion", "sale", "limited"]
    assert rr_sandbox.catalog["124"]["rating"] == 3.4
    assert gateway.queue_depth("DeadLetterQueue") == 0
