"""The local runtime's SQS event source (devserver/sqs_poller.py) against moto: however many
pollers run, at most ScalingConfig.MaximumConcurrency invocations are in flight at once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import boto3
import pytest

from devserver.sqs_poller import EventSourceMapping

WITHIN = 60  # liveness bound for a loaded machine


class ConcurrencyProbe:
    """A handler that records how many invocations overlap. Each one waits until two are in
    flight (so that the cap is reached) and then gives a third the chance to come in."""

    def __init__(self, window_seconds: float = 0.5) -> None:
        self.window = window_seconds
        self.in_flight = self.peak = 0
        self.handled: list[int] = []
        self._changed = threading.Condition()

    def __call__(self, event: dict[str, Any], _context: Any) -> dict[str, Any]:
        with self._changed:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.peak >= 2, timeout=WITHIN)
            self._changed.wait_for(lambda: self.in_flight > 2, timeout=self.window)
            self.in_flight -= 1
            self.handled += [json.loads(r["body"])["n"] for r in event["Records"]]
            self._changed.notify_all()
        return {"batchItemFailures": []}


@pytest.fixture
def queue_url(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    url: str = boto3.client("sqs").create_queue(QueueName=f"pacing-{uuid.uuid4().hex[:8]}")[
        "QueueUrl"
    ]
    return url


def test_five_pollers_run_at_most_two_invocations_at_once(queue_url: str) -> None:
    sqs = boto3.client("sqs")
    for n in range(8):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"n": n}))
    probe = ConcurrencyProbe()

    mapping = EventSourceMapping(
        queue_url, probe, max_concurrency=2, pollers=5, batch_size=1
    ).start()
    try:
        deadline = time.monotonic() + WITHIN
        while len(probe.handled) < 8 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mapping.ready()
    finally:
        mapping.stop()

    assert sorted(probe.handled) == list(range(8))
    assert probe.peak == 2
    assert mapping.status() == {
        "function": "RetryFunction",
        "pollers": 5,
        "max_concurrency": 2,
        "in_flight": 0,
        "peak_in_flight": 2,
    }
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
