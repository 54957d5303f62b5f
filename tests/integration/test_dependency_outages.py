"""AWS dependencies having a bad minute: Secrets Manager down after a cached read, and the retry
function dying in the middle of a batch."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devserver.apigw_event import event_for
from devserver.sqs_poller import SqsPoller
from devserver.template import Route
from devserver.workers import FunctionPool, WorkerSpec
from gateway.envelope import Envelope, LastError
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


def test_retry_function_dying_mid_batch_brings_back_only_unfinished_items(
    gateway: Gateway, tmp_path: Path, load_event: Callable[[str], dict[str, Any]]
) -> None:
    for n in range(6):
        table = "slow" if n % 2 else "pageviews"
        body = Envelope(
            kind="td.postback",
            lastError=LastError(detail="test"),
            request={"database": "web_events", "table": table, "record": {"n": n}},
        ).to_json()
        gateway.sqs.send_message(QueueUrl=gateway.refs["RetryQueue"], MessageBody=body)
    # The slow table hangs longer than the function may live: the process is killed mid-batch.
    gateway.td.add_fault(path="/postback/v3/event/web_events/slow", status=200, latency_ms=20_000)
    fn = dataclasses.replace(TEMPLATE.function("RetryFunction"), timeout=4)
    env = {**gateway.env, "UPSTREAM_TIMEOUT_SECONDS": "15"}
    pool = FunctionPool(WorkerSpec(fn, env, tmp_path / "retry.log"), size=1)
    try:
        # A warm instance first (imports, clients): the 4 s deadline is for the batch alone.
        pool.invoke(load_event("retry-td-postback.json"))
        result = SqsPoller(gateway.refs["RetryQueue"], lambda e, _c: pool.invoke(e)).poll_once()
    finally:
        pool.stop()

    assert (result.received, result.failed) == (6, 6)  # the invocation failed as a whole
    delivered = Counter(r["n"] for r in gateway.td.records("web_events", "pageviews") if "n" in r)
    assert delivered == {0: 1, 2: 1, 4: 1}
    # Only the three unfinished (slow) items are still on the queue, waiting to come back.
    assert gateway.queue_depth("RetryQueue") == 3
