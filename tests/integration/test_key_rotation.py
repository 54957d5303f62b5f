"""A rotated key never parks a write: after a 401/403 the gateway reads the secret again,
bypassing its cache, and repeats the call. Here the new key is in Secrets Manager and the
vendor takes only it, while the function still holds the old one in its cache."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devserver.apigw_event import event_for
from devserver.template import Route
from tests.integration.conftest import Gateway
from tests.integration.fault_support import rotate_td_api_key, rotate_td_write_key

P13N = Route("POST", "/v1/personalization/{database}/{table}")
POSTBACK = Route("POST", "/v1/postback/{database}/{table}")


def send(gateway: Gateway, route: Route, function: str, n: int) -> int:
    event = event_for(
        route,
        path_parameters={"database": "faults", "table": "events"},
        headers={"content-type": "application/json"},
        body=json.dumps({"n": n}),
    )
    status: int = gateway.invoke(function, event)["statusCode"]
    return status


@pytest.fixture
def p13n_api_key(gateway: Gateway) -> Iterator[None]:
    """The session's personalization sandbox takes its own key again afterwards (its reset
    does not restore it)."""
    api_key = gateway.p13n.api_key
    yield
    gateway.p13n.api_key = api_key


def test_a_postback_after_a_transient_failure_meets_the_new_key(gateway: Gateway) -> None:
    assert send(gateway, POSTBACK, "PostbackFunction", 1) == 200  # the old key, now cached
    rotate_td_write_key(gateway)
    gateway.td.add_fault(status=503, count=1)

    assert send(gateway, POSTBACK, "PostbackFunction", 2) == 202  # queued by the 503
    assert send(gateway, POSTBACK, "PostbackFunction", 3) == 200  # 403, read again, sent
    gateway.drain()

    assert sorted(int(str(r["n"])) for r in gateway.td.records("faults", "events")) == [1, 2, 3]
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_a_personalization_event_meets_the_new_key(gateway: Gateway, p13n_api_key: None) -> None:
    assert send(gateway, P13N, "PersonalizationFunction", 1) == 204  # the old key, now cached
    rotate_td_api_key(gateway)

    assert send(gateway, P13N, "PersonalizationFunction", 2) == 204  # 401, read again, sent

    assert [e["n"] for e in gateway.p13n.events("faults", "events")] == [1, 2]
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_a_personalization_event_whose_in_line_retry_meets_the_new_key(
    gateway: Gateway, p13n_api_key: None
) -> None:
    assert send(gateway, P13N, "PersonalizationFunction", 1) == 204  # the old key, now cached
    rotate_td_api_key(gateway)
    gateway.p13n.add_fault(status=503, count=1)  # the first call fails, its in-line retry: 401

    status = send(gateway, P13N, "PersonalizationFunction", 2)

    assert gateway.queue_depth("DeadLetterQueue") == 0, "parked for the rotated key"
    assert status == 204
    assert [e["n"] for e in gateway.p13n.events("faults", "events")] == [1, 2]
