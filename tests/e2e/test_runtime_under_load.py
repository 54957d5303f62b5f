"""The local runtime under load (issue 16): its start and stop as test fixtures see them, a
function process that dies mid-invocation, and a dead-letter queue of hundreds of messages."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from devserver.aws_resources import SANDBOX_SECRETS
from devserver.template import Template
from tests.e2e.conftest import (
    Runtime,
    RuntimeStartFailed,
    eventually,
    group_alive,
    runtime_running,
    start_runtime,
    stop_runtime,
)
from tests.support.records import untimed


def post_record(runtime: Runtime, table: str, record: dict[str, Any]) -> requests.Response:
    return requests.post(f"{runtime.api}/v1/postback/web_events/{table}", json=record, timeout=60)


def workers(runtime: Runtime, function: str) -> list[dict[str, Any]]:
    status = requests.get(f"{runtime.api}/_local/status", timeout=10).json()
    found: list[dict[str, Any]] = status["functions"][function]["workers"]
    return found


@pytest.mark.parametrize("stale", ["cut short", "a live runtime's"])
def test_a_state_file_left_by_an_earlier_run_does_not_mislead_the_start(
    tmp_path: Path, runtime: Runtime, stale: str
) -> None:
    left = '{"api": "http://127.0.0.1:' if stale == "cut short" else json.dumps(runtime.state)
    (tmp_path / "state.json").write_text(left)

    rt = start_runtime(tmp_path, "--quiet")
    try:
        assert rt.api != runtime.api
        answer = requests.post(f"{rt.api}/v1/postback/web_events/t", json={"a": 1}, timeout=30)
        assert answer.status_code == 200, answer.text
    finally:
        assert stop_runtime(rt) == 0
    assert not rt.left_behind


def test_health_is_200_once_every_part_is_ready(runtime: Runtime) -> None:
    answer = requests.get(runtime.state["health"], timeout=10)

    assert answer.status_code == 200, answer.text
    checks = answer.json()["checks"]
    functions = {fn.logical_id for fn in Template().functions()}
    assert set(checks) == {
        "aws",
        *(f"sandbox:{name}" for name in runtime.state["sandboxes"]),
        *(f"function:{name}" for name in functions),
        "poller:RetryFunction",
    }
    assert all(checks.values())


def test_a_runtime_whose_start_fails_is_killed_with_all_it_started(tmp_path: Path) -> None:
    # Too short a bound for any runtime to get healthy: the set-up fails after the processes
    # (the runtime, its workers) exist.
    with pytest.raises(RuntimeStartFailed) as failed:
        start_runtime(tmp_path, "--quiet", startup_seconds=0)

    assert not group_alive(failed.value.process)


def test_a_block_that_fails_still_stops_the_runtime(tmp_path: Path) -> None:
    started: list[Runtime] = []

    def set_up_that_fails() -> None:
        with runtime_running(tmp_path, "--quiet") as rt:
            started.append(rt)
            assert requests.get(rt.state["health"], timeout=10).status_code == 200
            raise LookupError("the fixture's next step failed")

    with pytest.raises(LookupError):
        set_up_that_fails()

    [rt] = started
    assert not group_alive(rt.process)
    assert not rt.left_behind


@pytest.fixture(scope="module")
def one_worker_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    # One process per function, and vendor calls allowed 8 s: time to find the busy worker.
    with runtime_running(
        tmp_path_factory.mktemp("one-worker"),
        "--quiet",
        "--workers",
        "1",
        "--set",
        "UPSTREAM_TIMEOUT_SECONDS=8",
    ) as rt:
        yield rt


def test_a_worker_killed_mid_invocation_is_a_502_and_is_replaced(
    one_worker_runtime: Runtime,
) -> None:
    rt = one_worker_runtime
    table = f"t_{uuid.uuid4().hex[:8]}"
    rt.fault("td-postback", mode="timeout", path=f"/postback/v3/event/web_events/{table}")
    [before] = workers(rt, "PostbackFunction")
    arrived = rt.summary("td-postback")["requests"]

    with ThreadPoolExecutor(1) as caller:
        answer = caller.submit(post_record, rt, table, {"user_id": "crash"})
        # The call has reached the vendor: the worker is inside the invocation.
        assert eventually(lambda: rt.summary("td-postback")["requests"] > arrived)
        [busy] = [w for w in workers(rt, "PostbackFunction") if w["busy"]]
        os.kill(busy["pid"], signal.SIGKILL)
        response = answer.result(timeout=60)

    assert response.status_code == 502
    assert response.json() == {"message": "Internal Server Error"}
    # The pool keeps its size with a fresh process, and the next call succeeds.
    [after] = workers(rt, "PostbackFunction")
    assert after["pid"] not in (before["pid"], busy["pid"])
    rt.clear_faults("td-postback")
    assert post_record(rt, table, {"user_id": "after"}).status_code == 200


def test_dead_letters_lists_every_parked_message_exactly_once(runtime: Runtime) -> None:
    sqs = boto3.client("sqs", endpoint_url=runtime.state["aws_endpoint"])
    dlq = runtime.state["queues"]["DeadLetterQueue"]
    marker, count = uuid.uuid4().hex, 35  # more than one ReceiveMessage page (10)
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=dlq,
            Entries=[
                {
                    "Id": str(n),
                    "MessageBody": json.dumps({"marker": marker, "n": n}),
                    "MessageAttributes": {
                        "reason": {"DataType": "String", "StringValue": f"reason {n}"}
                    },
                }
                for n in range(start, min(start + 10, count))
            ],
        )

    def ours() -> list[dict[str, Any]]:
        return [m for m in runtime.dead_letters() if marker in m["body"]]

    listed = ours()
    numbers = [json.loads(m["body"])["n"] for m in listed]
    assert sorted(numbers) == list(range(count))
    assert all(m["reason"] == f"reason {json.loads(m['body'])['n']}" for m in listed)
    # Listing consumes nothing and hides nothing: the next listing shows them all again.
    assert len(ours()) == count


def test_retry_pollers_run_the_templates_maximum_concurrency(runtime: Runtime) -> None:
    template = Template()
    [spec] = template.function("RetryFunction").sqs_sources

    status = requests.get(f"{runtime.api}/_local/status", timeout=10).json()

    [source] = status["event_sources"]
    assert source["function"] == "RetryFunction"
    assert source["max_concurrency"] == template.max_concurrency(spec) == 2
    assert source["pollers"] == source["max_concurrency"]  # the default: one per slot
    assert source["peak_in_flight"] <= source["max_concurrency"]


def test_the_local_td_host_is_the_document_host(runtime: Runtime) -> None:
    assert runtime.summary("td-postback")["mode"] == "document"


def test_a_key_rotated_at_td_alone_is_an_auth_failure_and_the_write_is_parked(
    one_worker_runtime: Runtime,
) -> None:
    rt = one_worker_runtime
    table = f"t_{uuid.uuid4().hex[:8]}"
    path = f"/postback/v3/event/web_events/{table}"
    assert post_record(rt, table, {"n": 1}).status_code == 200

    # TD takes a new key only; the gateway's secret still holds the old one.
    keys = f"{rt.sandbox('td-postback')}/_sandbox/keys"
    requests.post(keys, json={"write_keys": ["rotated-td-write-key"]}, timeout=5)
    try:
        answer = post_record(rt, table, {"n": 2})
    finally:  # the module's other tests use the local key
        local_key = SANDBOX_SECRETS["TreasureDataSecret"]["write_key"]
        requests.post(keys, json={"write_keys": [local_key]}, timeout=5).raise_for_status()

    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "UPSTREAM_AUTH"
    assert untimed([r["body"] for r in rt.received("td-postback") if r["path"] == path]) == [
        {"n": 1}
    ]
    parked = [m for m in rt.dead_letters() if table in m["body"]]
    assert untimed([json.loads(m["body"])["request"]["record"] for m in parked]) == [{"n": 2}]
    assert "credentials" in parked[0]["reason"]
