"""A postback record keeps the time it was accepted at: stamped then when it has none of its
own, carried by its envelope, and never re-timed by a replay; past TD's 7-day window a replay
is parked instead. Reproduces: a three-hour outage moved three hours of pageviews."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from gateway.core.envelope import Envelope, LastError
from tests.integration.conftest import Gateway
from tests.integration.rr_support import peek
from tests.integration.td_support import postback


def test_a_record_without_time_is_stamped_when_accepted(gateway: Gateway) -> None:
    before = int(time.time())
    assert postback(gateway, {"user_id": "t-1"})["statusCode"] == 200
    after = int(time.time())

    [record] = gateway.td.records("web_events", "pageviews")
    assert before <= record["time"] <= after
    assert "td_record_time" not in record


@pytest.mark.parametrize("own", [{"time": 1764000000}, {"td_record_time": "1764000000"}])
def test_a_records_own_time_is_left_alone(gateway: Gateway, own: dict[str, Any]) -> None:
    assert postback(gateway, {"user_id": "t-2", **own})["statusCode"] == 200
    assert gateway.td.records("web_events", "pageviews") == [{"user_id": "t-2", **own}]


def test_a_replay_lands_at_the_acceptance_time(gateway: Gateway) -> None:
    gateway.td.add_fault(status=503, count=1)
    assert postback(gateway, {"user_id": "t-3"})["statusCode"] == 202
    [envelope] = peek(gateway)
    accepted_at = envelope["request"]["record"]["time"]

    gateway.drain()

    [record] = gateway.td.records("web_events", "pageviews")
    assert record == {"user_id": "t-3", "time": accepted_at}


def test_on_the_v2_host_the_stamp_is_td_record_time(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TD_POSTBACK_V2", "true")  # the sandbox's URL does not say
    assert postback(gateway, {"user_id": "t-4"})["statusCode"] == 200
    [record] = gateway.td.records("web_events", "pageviews")
    assert set(record) == {"user_id", "td_record_time"}


def test_a_replay_past_tds_window_is_parked_not_re_timed(gateway: Gateway) -> None:
    eight_days_ago = int(time.time()) - 8 * 86_400
    body = Envelope(
        kind="td.postback",
        request={
            "database": "web_events",
            "table": "pageviews",
            "record": {"user_id": "t-5", "time": eight_days_ago},
        },
        lastError=LastError(status=503, detail="down"),
    ).to_json()
    gateway.sqs.send_message(QueueUrl=gateway.refs["RetryQueue"], MessageBody=body)

    gateway.drain()

    assert gateway.td.requests == []
    [parked] = gateway.messages("DeadLetterQueue")
    assert parked["MessageAttributes"]["reason"]["StringValue"].startswith("EVENT_TOO_OLD")
    assert json.loads(parked["Body"])["request"]["record"]["time"] == eight_days_ago
