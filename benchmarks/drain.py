"""Retry drain: N envelopes on RetryQueue, the sandbox answering after `latency_ms`, RetryFunction
fed by P pollers (Lambda's SQS event source starts with 5 concurrent batches) in warm worker
processes. The bound: ceil(N / batch) batches of `latency_ms` each, P at a time, which holds only
if a batch's items are delivered concurrently."""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from benchmarks.backing import EVENTS, Backing
from devserver.sqs_poller import SqsPoller
from devserver.vendors.base import VendorSandbox
from devserver.workers import FunctionPool, WorkerSpec

TABLE = "drain"


@dataclass
class Drain:
    envelopes: int
    batch_size: int
    pollers: int
    latency_ms: int
    seconds: float
    delivered: int
    duplicates: int
    peak_in_flight: int

    @property
    def bound_seconds(self) -> float:
        return math.ceil(self.envelopes / self.batch_size) * self.latency_ms / 1000 / self.pollers

    @property
    def ratio(self) -> float:
        return self.seconds / self.bound_seconds


def _bodies(count: int) -> list[str]:
    template = json.loads(
        json.loads((EVENTS / "retry-td-postback.json").read_text())["Records"][0]["body"]
    )
    template["request"].update(database="bench", table=TABLE)
    bodies = []
    for n in range(count):
        template.update(id=str(uuid.uuid4()))
        template["request"]["record"] = {"n": n}
        bodies.append(json.dumps(template))
    return bodies


def _delivered(sandbox: VendorSandbox) -> list[int]:
    return [json.loads(r.body)["n"] for r in list(sandbox.received) if r.path.endswith(f"/{TABLE}")]


def _enqueue(queue_url: str, bodies: list[str]) -> None:
    sqs = boto3.client("sqs")

    def send(start: int) -> None:
        entries: list[Any] = [
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, range(0, len(bodies), 10)))


def measure(
    backing: Backing, log_path: Path, *, envelopes: int, pollers: int, latency_ms: int
) -> Drain:
    fn = backing.template.function("RetryFunction")
    [source] = fn.sqs_sources
    batch_size = int(source.get("BatchSize", 10))
    sandbox = backing.sandboxes["td-postback"]
    sandbox.reset()
    queue_url = backing.refs["RetryQueue"]
    _enqueue(queue_url, _bodies(envelopes))
    sandbox.latency_ms = latency_ms

    pool = FunctionPool(WorkerSpec(fn, backing.envs[fn.logical_id], log_path), size=pollers)
    try:
        for _ in range(pollers):  # warm every worker: the bound is about delivery, not imports
            pool.invoke(json.loads((EVENTS / "retry-td-postback.json").read_text()))
        done = threading.Event()

        def poll() -> None:
            poller = SqsPoller(
                queue_url, lambda event, _ctx: pool.invoke(event), batch_size=batch_size,
                function_name=fn.logical_id, timeout_seconds=fn.timeout,
            )  # fmt: skip
            while not done.is_set():
                if poller.poll_once().received == 0 and len(_delivered(sandbox)) >= envelopes:
                    done.set()

        start = time.perf_counter()
        threads = [threading.Thread(target=poll, daemon=True) for _ in range(pollers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - start
    finally:
        pool.stop()
        sandbox.latency_ms = 0
    numbers = [
        json.loads(r.body)["n"] for r in list(sandbox.received) if r.path.endswith(f"/{TABLE}")
    ]
    return Drain(
        envelopes, batch_size, pollers, latency_ms, seconds,
        len(set(numbers)), len(numbers) - len(set(numbers)), sandbox.peak_in_flight,
    )  # fmt: skip
