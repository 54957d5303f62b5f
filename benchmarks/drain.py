"""Retry drain: N envelopes queued for RetryFunction, the sandbox answering after `latency_ms`,
P pollers (Lambda's SQS event source starts with 5 concurrent batches) feeding warm worker
processes. The bound: ceil(N / batch) batches of `latency_ms` each, P at a time, which holds
only if a batch's items are delivered concurrently.

The queue side is the event source mapping's, not the gateway's: the 10,000 envelopes are held
by an in-memory stand-in of SQS, because moto's ReceiveMessage costs O(queue length) per message
it returns (`_sqs_receive_ms` measures it). The function's own AWS calls (idempotency records,
backoff, parking) still go to moto. Side by side, the floor drains the same envelopes with the
same pollers and worker processes, making the same AWS calls and vendor request per envelope
with plain boto3 and `requests` (benchmarks/floor/drain_floor.py)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from benchmarks.backing import EVENTS, Backing, lambda_environment
from benchmarks.stats import median
from devserver.sqs_poller import SqsPoller
from devserver.template import Function
from devserver.vendors.base import Request, VendorSandbox
from devserver.workers import FunctionPool, WorkerSpec

TABLE = "drain"
# moto's SendMessageBatch slows down with the queue's length too: 10,000 take minutes to queue.
RECEIVE_QUEUE_LENGTHS = [10, 1_000, 2_000]
FLOOR = Function("DrainFloor", "benchmarks/floor", "drain_floor.handler", timeout=60)


@dataclass
class Run:
    seconds: float
    delivered: int
    duplicates: int
    peak_in_flight: int
    # CPU seconds spent during the drain by the function's worker processes, and by this
    # process: moto, the sandboxes and the pollers (N cores give at most N a second).
    workers_cpu_seconds: float
    backing_cpu_seconds: float


@dataclass
class Drain:
    envelopes: int
    batch_size: int
    pollers: int
    latency_ms: int
    gateway: Run
    floor: Run
    sqs_receive_ms: dict[str, float]  # moto's ReceiveMessage (10 messages) by queue length


class MemoryQueue(SqsPoller):
    """The event source mapping over an in-memory queue: the same batches, records and
    partial-failure handling as `SqsPoller`, without moto's per-message cost."""

    def __init__(self, queue_url: str, bodies: list[str], **kwargs: Any) -> None:
        super().__init__(queue_url, **kwargs)
        self._lock = threading.Lock()
        self._messages: deque[dict[str, Any]] = deque(
            {
                "MessageId": str(uuid.uuid4()),
                "ReceiptHandle": f"memory-{n}",
                "Body": body,
                "Attributes": {"ApproximateReceiveCount": "0", "SentTimestamp": "0"},
            }
            for n, body in enumerate(bodies)
        )

    def receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        with self._lock:
            batch = [
                self._messages.popleft() for _ in range(min(self.batch_size, len(self._messages)))
            ]
        for message in batch:
            count = int(message["Attributes"]["ApproximateReceiveCount"]) + 1
            message["Attributes"]["ApproximateReceiveCount"] = str(count)
        return batch

    def delete(self, done: list[dict[str, Any]]) -> None:
        pass  # taken off the queue when received

    def release(self, failed: list[dict[str, Any]]) -> None:
        with self._lock:
            self._messages.extend(failed)


def _bodies(numbers: range) -> list[str]:
    template = json.loads(
        json.loads((EVENTS / "retry-td-postback.json").read_text())["Records"][0]["body"]
    )
    template["request"].update(database="bench", table=TABLE)
    bodies = []
    for n in numbers:
        template.update(id=str(uuid.uuid4()))
        template["request"]["record"] = {"n": n}
        bodies.append(json.dumps(template))
    return bodies


def _delivered(sandbox: VendorSandbox) -> list[int]:
    numbers = [json.loads(r.body)["n"] for r in list(sandbox.received)]
    return [n for n in numbers if n >= 0]  # the warm-up envelopes are numbered below 0


def _run(
    backing: Backing, spec: WorkerSpec, bodies: list[str], *, pollers: int, batch_size: int,
    latency_ms: int,
) -> tuple[Run, Request]:  # fmt: skip
    """Drain `bodies` with `spec`'s workers; also returns a warm-up's vendor request."""
    sandbox = backing.sandboxes["td-postback"]
    queue_url = backing.refs["RetryQueue"]
    pool = FunctionPool(spec, size=pollers)
    try:
        # Warm every worker (imports, clients, connections): the bound is about delivery.
        warmup = MemoryQueue(
            queue_url, _bodies(range(-pollers, 0)), handler=pool.handler, batch_size=1
        )
        _in_threads(warmup.poll_once, pollers)
        sample = sandbox.received[0]
        sandbox.reset()
        sandbox.latency_ms = latency_ms
        queue = MemoryQueue(
            queue_url, bodies, handler=pool.handler,
            batch_size=batch_size, function_name=spec.function.logical_id,
            timeout_seconds=spec.function.timeout,
        )  # fmt: skip

        def poll() -> None:
            while queue.poll_once().received:
                pass

        start, (workers_start, backing_start) = time.perf_counter(), _cpu(pool.pids())
        _in_threads(poll, pollers)
        seconds = time.perf_counter() - start
        workers_end, backing_end = _cpu(pool.pids())
    finally:
        pool.stop()
    numbers = _delivered(sandbox)
    run = Run(
        seconds, len(set(numbers)), len(numbers) - len(set(numbers)), sandbox.peak_in_flight,
        workers_end - workers_start, backing_end - backing_start,
    )  # fmt: skip
    sandbox.reset()
    return run, sample


def _cpu(pids: list[int]) -> tuple[float, float]:
    """CPU seconds (user + system) so far of the processes `pids` together, and of this one."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            # Fields after the command name (which may hold spaces): utime and stime are 12, 13.
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick, time.process_time()


def _in_threads(target: Callable[[], Any], count: int) -> None:
    """Run `target` in `count` threads at once; return when all are done."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _sqs_receive_ms(lengths: list[int]) -> dict[str, float]:
    """moto's ReceiveMessage of 10 messages with `length` messages on the queue."""
    sqs = boto3.client("sqs")
    result = {}
    for length in lengths:
        queue_url = sqs.create_queue(QueueName=f"bench-receive-{length}")["QueueUrl"]
        bodies = _bodies(range(length))
        for start in range(0, length, 10):
            entries: list[Any] = [
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
            ]
            sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        times = []
        for _ in range(5):
            begin = time.perf_counter()
            sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            times.append((time.perf_counter() - begin) * 1000)
        result[str(length)] = median(times)
        sqs.delete_queue(QueueUrl=queue_url)
    return result


def measure(
    backing: Backing,
    log_path: Path,
    *,
    envelopes: int,
    pollers: int,
    latency_ms: int,
    receive_lengths: list[int] = RECEIVE_QUEUE_LENGTHS,
) -> Drain:
    fn = backing.template.function("RetryFunction")
    [source] = fn.sqs_sources
    batch_size = int(source.get("BatchSize", 10))
    bodies = _bodies(range(envelopes))
    sizes = {"pollers": pollers, "batch_size": batch_size, "latency_ms": latency_ms}
    # The workers run in the environment Lambda gives a function, as Powertools reads it.
    env = {**backing.envs[fn.logical_id], **lambda_environment(fn)}
    gateway, sample = _run(backing, WorkerSpec(fn, env, log_path), bodies, **sizes)
    # The floor sends the very request the function sent (its path, key and headers).
    floor_env = {
        **env,  # its AWS endpoint, credentials and IDEMPOTENCY_TABLE
        "FLOOR_URL": backing.sandboxes["td-postback"].url + sample.path,
        "FLOOR_HEADERS": json.dumps(sample.replay_headers()),
    }
    floor, _ = _run(backing, WorkerSpec(FLOOR, floor_env, log_path), bodies, **sizes)
    receive = _sqs_receive_ms(receive_lengths)
    return Drain(envelopes, batch_size, pollers, latency_ms, gateway, floor, receive)
