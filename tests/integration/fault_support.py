"""What the fault-suite files share: the vendor's fault mix, a key rotation as an operator does it
(Secrets Manager first, then the vendor stops taking the old key), the recovery drain through the
template's retry event source (worker processes, MaximumConcurrency), and the EMF metrics the
handlers printed."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3

from devserver.sqs_poller import EventSourceMapping
from devserver.vendors.base import Request, VendorSandbox
from devserver.vendors.richrelevance import TOKEN_SUFFIX
from devserver.workers import FunctionPool, WorkerSpec
from tests.integration.conftest import TEMPLATE, Gateway

# A vendor that hangs past the gateway's read timeout (0.3 s in the suite) and never processes
# the call: a 504 after 1.5 s is that to the client, and frees the sandbox's thread soon enough
# for the recovery's in-flight count to start from zero (the sandbox's own `timeout` mode hangs
# for 30 s).
HANG: dict[str, Any] = {"status": 504, "latency_ms": 1500}
Faults = list[tuple[dict[str, Any], float]]  # (spec, share of the requests that reach it)
FAULT_MIX: Faults = [
    ({"status": 500}, 0.05),
    ({"status": 502}, 0.05),
    ({"status": 503}, 0.05),
    ({"status": 504}, 0.05),
    (HANG, 0.03),
    ({"mode": "reset"}, 0.03),
    ({"mode": "delay", "latency_ms": 600}, 0.02),  # accepted after we stopped waiting
    ({"status": 429, "headers": {"Retry-After": "2"}}, 0.05),
]
# An outage: every call fails (checked in this order, the last one catches the rest).
OUTAGE: Faults = [({"mode": "reset"}, 0.1), (HANG, 0.02), ({"status": 503}, 1.0)]


def add_faults(sandbox: VendorSandbox, faults: Faults, seed: int) -> None:
    for offset, (spec, share) in enumerate(faults):
        sandbox.add_fault(rate=share, seed=seed + offset, **spec)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


# --- key rotation -----------------------------------------------------------------------------


@dataclass
class Rotation:
    """A rotated credential: `stale(request)` tells a vendor call made with the old one."""

    at: float  # monotonic, as the sandbox's `received_at`
    new_value: str
    stale: Callable[[Request], bool]

    def stale_calls(self, sandbox: VendorSandbox) -> int:
        """Vendor calls after the rotation that still carried the old credential (each one
        refused, unless a fault answered first)."""
        return sum(1 for r in list(sandbox.requests) if r.received_at >= self.at and self.stale(r))


def put_secret(gateway: Gateway, logical_id: str, **changes: str) -> None:
    """Rotate fields of a secret in Secrets Manager (a new version, as a rotation writes)."""
    sm = boto3.client("secretsmanager")
    secret_id = gateway.refs[logical_id]
    current = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**current, **changes}))


def rotate_td_write_key(gateway: Gateway) -> Rotation:
    new = f"rotated-write-key-{uuid.uuid4().hex}"
    put_secret(gateway, "TreasureDataSecret", write_key=new)
    at = time.monotonic()
    gateway.td.set_write_keys([new])
    return Rotation(at, new, lambda r: r.header("X-TD-Write-Key") != new)


def rotate_td_api_key(gateway: Gateway) -> Rotation:
    # The account part ("1/") stays: the personalization token names the same account.
    new = f"1/rotated-api-key-{uuid.uuid4().hex}"
    put_secret(gateway, "TreasureDataSecret", api_key=new)
    at = time.monotonic()
    gateway.p13n.api_key = new
    return Rotation(at, new, lambda r: r.header("Authorization") != f"TD1 {new}")


def rotate_rr_client_secret(gateway: Gateway) -> Rotation:
    """RichRelevance's client secret; the tokens issued under the old one are revoked, so the
    gateway's next call needs a new token, asked for with the client secret it has cached."""
    new = f"rotated-client-secret-{uuid.uuid4().hex}"
    put_secret(gateway, "RichRelevanceSecret", client_secret=new)
    at = time.monotonic()
    gateway.rr.client_secret = new
    gateway.rr.revoke_tokens()

    def stale(request: Request) -> bool:
        if not request.path.endswith(TOKEN_SUFFIX):
            return False
        form = parse_qs(request.body.decode(errors="replace"))
        return form.get("client_secret") != [new]

    return Rotation(at, new, stale)


# --- the recovery drain -----------------------------------------------------------------------


@dataclass
class Recovery:
    cap: int  # vendor calls the retry event source may have in flight: concurrency x batch size
    max_concurrency: int
    batch_size: int
    invocations_peak: int = 0
    vendor_peak: int = 0
    queued_at_start: int = 0
    seconds: float = 0.0


@contextmanager
def retry_workers(log_dir: Path) -> Iterator[FunctionPool]:
    """RetryFunction in worker processes of its own, as the local runtime runs it: one more
    than the event source's MaximumConcurrency, so that only the event source limits it."""
    fn = TEMPLATE.function("RetryFunction")
    [source] = fn.sqs_sources
    spec = WorkerSpec(fn, dict(os.environ), log_dir / "RetryFunction.log")
    pool = FunctionPool(spec, size=TEMPLATE.max_concurrency(source) + 1)
    try:
        wait_for(pool.ready, "RetryFunction's workers to finish their init")
        yield pool
    finally:
        pool.stop()


def recovery_drain(
    gateway: Gateway, sandbox: VendorSandbox, pool: FunctionPool, *, latency_ms: int = 50
) -> Recovery:
    """Drain RetryQueue against the recovered vendor through the template's event source
    (BatchSize, ScalingConfig.MaximumConcurrency) with twice as many pollers as that, and
    count the most vendor calls in flight at once. The vendor answers after `latency_ms`, so
    that a batch's concurrent calls overlap and a stampede would show."""
    fn = TEMPLATE.function("RetryFunction")
    [source] = fn.sqs_sources
    max_concurrency = TEMPLATE.max_concurrency(source)
    batch_size = int(source.get("BatchSize", 10))
    recovery = Recovery(max_concurrency * batch_size, max_concurrency, batch_size)
    # Calls of the faults that hang end first: the count starts at zero, as does the drain.
    wait_for(lambda: sandbox.in_flight == 0, f"{sandbox.name}'s hanging calls to end")
    sandbox.peak_in_flight = 0  # no call in flight: nothing else writes it now
    sandbox.latency_ms = latency_ms
    recovery.queued_at_start = gateway.queue_depth("RetryQueue")
    mapping = EventSourceMapping(
        gateway.refs["RetryQueue"],
        pool.handler,
        max_concurrency=max_concurrency,
        pollers=2 * max_concurrency,
        batch_size=batch_size,
        function_name=fn.logical_id,
        timeout_seconds=fn.timeout,
    )
    started = time.monotonic()
    mapping.start()
    try:
        wait_for(
            lambda: gateway.queue_depth("RetryQueue") == 0 and mapping.status()["in_flight"] == 0,
            "RetryQueue to drain",
            timeout=300,
        )
    finally:
        mapping.stop()
        sandbox.latency_ms = 0
    recovery.seconds = time.monotonic() - started
    recovery.invocations_peak = mapping.status()["peak_in_flight"]
    recovery.vendor_peak = sandbox.peak_in_flight
    return recovery


# --- metrics ------------------------------------------------------------------------------------


def metric_total(output: str, name: str) -> float:
    """The sum of metric `name` over the EMF documents (one JSON line each) in `output`."""
    total = 0.0
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        value = document.get(name)
        if isinstance(value, list):
            total += sum(value)
        elif isinstance(value, int | float):
            total += value
    return total
