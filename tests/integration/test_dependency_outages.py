"""AWS dependencies having a bad minute: Secrets Manager down after a cached read, and the retry
function dying in the middle of a batch."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devserver.apigw_event import event_for
from devserver.sqs_poller import SqsPoller
from devserver.template import Route
from devserver.workers import FunctionPool, WorkerSpec
from gateway.core.envelope import Envelope, LastError
from tests.integration.conftest import TEMPLATE, Gateway
from tests.support.tcp_proxy import SwitchableProxy

ROUTE = Route("POST", "/v1/postback/{database}/{table}")


def postback(gateway: Gateway, record: dict[str, object]) -> int:
    event = event_for(
        ROUTE,
        path_parameters={"database": "web_events", "table": "pageviews"},
        body=json.dumps(record),
    )
    status: int = gateway.invoke("PostbackFunction", event)["statusCode"]
    return status


@pytest.fixture
def secrets_proxy(
    aws_proxy: Callable[[str], SwitchableProxy], monkeypatch: pytest.MonkeyPatch
) -> SwitchableProxy:
    monkeypatch.setenv("SECRETS_MAX_AGE_SECONDS", "0")  # every call goes back to it
    return aws_proxy("SECRETS_MANAGER")


def test_secrets_manager_down_uses_the_cached_secret(
    gateway: Gateway, secrets_proxy: SwitchableProxy
) -> None:
    assert postback(gateway, {"n": 1}) == 200

    secrets_proxy.up = False
    assert postback(gateway, {"n": 2}) == 200

    assert [r["n"] for r in gateway.td.records("web_events", "pageviews")] == [1, 2]


def test_secrets_manager_down_before_any_read_is_a_500_problem(
    gateway: Gateway, secrets_proxy: SwitchableProxy
) -> None:
    secrets_proxy.up = False
    event = event_for(
        ROUTE, path_parameters={"database": "web_events", "table": "pageviews"}, body='{"n": 1}'
    )

    response = gateway.invoke("PostbackFunction", event)

    assert response["statusCode"] == 500
    assert json.loads(response["body"])["code"] == "SECRET_UNAVAILABLE"
    assert "Traceback" not in response["body"]
    assert gateway.td.requests == []


def test_retry_function_dying_mid_batch_delivers_each_item_once_when_the_batch_comes_back(
    gateway: Gateway, tmp_path: Path, load_event: Callable[[str], dict[str, Any]]
) -> None:
    queue_url = gateway.refs["RetryQueue"]
    # The batch comes back 2 s after the invocation died (180 s in the template).
    gateway.sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "2"})
    for n in range(6):
        table = "slow" if n % 2 else "pageviews"
        body = Envelope(
            kind="td.postback",
            lastError=LastError(detail="test"),
            request={"database": "web_events", "table": table, "record": {"n": n}},
        ).to_json()
        gateway.sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    # The slow table hangs longer than the function may live: the process is killed mid-batch.
    gateway.td.add_fault(path="/postback/v3/event/web_events/slow", status=200, latency_ms=20_000)
    fn = dataclasses.replace(TEMPLATE.function("RetryFunction"), timeout=4)
    env = {**gateway.env, "UPSTREAM_TIMEOUT_SECONDS": "15"}
    pool = FunctionPool(WorkerSpec(fn, env, tmp_path / "retry.log"), size=1)
    poller = SqsPoller(queue_url, pool.handler)
    try:
        # A warm instance first (imports, clients): the 4 s deadline is for the batch alone.
        pool.invoke(load_event("retry-td-postback.json"))
        died = poller.poll_once()
        delivered_before = Counter(
            r["n"] for r in gateway.td.records("web_events", "pageviews") if "n" in r
        )
        gateway.td.clear_faults()  # the slow table recovers
        time.sleep(2.5)
        came_back = poller.poll_once()
    finally:
        pool.stop()

    assert (died.received, died.failed) == (6, 6)  # the invocation failed as a whole
    assert delivered_before == {0: 1, 2: 1, 4: 1}
    # The whole batch came back; the finished items were skipped, the rest delivered once.
    assert (came_back.received, came_back.failed) == (6, 0)
    records = gateway.td.records("web_events", "pageviews") + gateway.td.records(
        "web_events", "slow"
    )
    assert Counter(r["n"] for r in records if "n" in r) == dict.fromkeys(range(6), 1)
    assert gateway.queue_depth("RetryQueue") == 0
