"""Accepted means delivered, through faults, a key rotation and an outage. For each write kind,
1,000 requests in sequence (postback's alternate between its route and the TD JS SDK route) while:
- the vendor fails in a random mix (500/502/503/504, hangs past our timeout, resets, late
  accepts, 429s), throughout but for the outage;
- SQS is unreachable for requests 400-407 (a failed write can then not be queued: 503), and
  for its first two the vendor fails too;
- the retry function, warm (its secret cached), replays a little at requests 450, 550 and 700;
- at request 500 the vendor's credential is rotated: the new value goes into Secrets Manager,
  then the vendor accepts only the new one (the warm functions still hold the old one);
- requests 600-799 meet an outage: every vendor call fails;
- then the vendor recovers and RetryQueue drains through the template's retry event source
  (worker processes, ScalingConfig.MaximumConcurrency, BatchSize).
Checked: every accepted write (200/202, or personalization's 204) reaches the vendor, none is
parked (credentials or otherwise), every record lands at the second it was accepted, the
recovery never has more vendor calls in flight than the event source's cap; duplicates are
counted, and each is a write the vendor took after the gateway stopped waiting for it."""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devserver.apigw_event import event_for
from devserver.template import Route
from devserver.vendors.base import VendorSandbox
from devserver.vendors.richrelevance import CONTENT_PREFIX
from tests.integration.conftest import Gateway
from tests.integration.fault_support import (
    FAULT_MIX,
    OUTAGE,
    Rotation,
    add_faults,
    recovery_drain,
    retry_workers,
    rotate_rr_client_secret,
    rotate_td_api_key,
    rotate_td_write_key,
)
from tests.integration.log_capture import captured_logs
from tests.integration.rr_support import content, opt_out
from tests.support.tcp_proxy import SwitchableProxy

REQUESTS = 1000
SQS_DOWN = range(400, 408)  # requests sent while SQS is unreachable
BOTH_DOWN = range(400, 402)  # ... and the vendor fails every call
WARM_REPLAYS = (450, 550, 700)  # the retry function replays a batch or two before these
ROTATION_AT = 500
OUTAGE_AT = range(600, 800)  # every vendor call fails


@dataclass(frozen=True)
class Sent:
    status: int
    accepted: bool
    queued: bool  # accepted onto RetryQueue rather than delivered at once


@dataclass(frozen=True)
class Arrival:
    n: int  # the request number
    time: int | None  # the record's time, for the kinds whose records carry one


@dataclass(frozen=True)
class WriteKind:
    name: str
    sandbox: Callable[[Gateway], VendorSandbox]
    send: Callable[[Gateway, int], Sent]
    delivered: Callable[[Gateway], list[Arrival]]
    rotate: Callable[[Gateway], Rotation]
    # Personalization retries once in line: a late accept then delivered in line is a duplicate
    # of a write the caller was told was delivered.
    inline_retry: bool = False


def _status_sent(status: int) -> Sent:
    return Sent(status, status in (200, 202), status == 202)


def _postback_send(gateway: Gateway, n: int) -> Sent:
    """Even requests on the postback route, odd ones on the TD JS SDK route: one write kind."""
    if n % 2:
        return _js_sdk_send(gateway, n)
    event = event_for(
        Route("POST", "/v1/postback/{database}/{table}"),
        path_parameters={"database": "faults", "table": "records"},
        headers={"content-type": "application/json"},
        body=json.dumps({"n": n}),
    )
    return _status_sent(gateway.invoke("PostbackFunction", event)["statusCode"])


def _js_sdk_send(gateway: Gateway, n: int) -> Sent:
    sdk_type = "application/vnd.treasuredata.v1+json"
    event = event_for(
        Route("POST", "/v1/td/{database}/{table}"),
        path_parameters={"database": "faults", "table": "records"},
        headers={"content-type": sdk_type, "accept": sdk_type, "authorization": "TD1 page-key"},
        body=json.dumps({"events": [{"n": n}]}),
    )
    return _status_sent(gateway.invoke("PostbackFunction", event)["statusCode"])


def _personalization_send(gateway: Gateway, n: int) -> Sent:
    event = event_for(
        Route("POST", "/v1/personalization/{database}/{table}"),
        path_parameters={"database": "faults", "table": "events"},
        headers={"content-type": "application/json"},
        body=json.dumps({"n": n}),
    )
    response = gateway.invoke("PersonalizationFunction", event)
    status: int = response["statusCode"]
    # The degraded answer: 204 with `Gateway-Status: queued; retryId=...` (the event is queued).
    queued = response.get("headers", {}).get("Gateway-Status", "").startswith("queued; retryId=")
    return Sent(status, status in (200, 204), queued)


def _opt_out_send(gateway: Gateway, n: int) -> Sent:
    return _status_sent(opt_out(gateway, f"user-{n}", {"enableOptOut": True})["statusCode"])


def _content_send(gateway: Gateway, n: int) -> Sent:
    response = content(gateway, "PATCH", [{"id": f"c-{n}", "rating": n}])
    return _status_sent(response["statusCode"])


def _td_records(gateway: Gateway) -> list[Arrival]:
    records = gateway.td.records("faults", "records")
    return [Arrival(int(str(r["n"])), int(str(r["time"]))) for r in records]


def _p13n_events(gateway: Gateway) -> list[Arrival]:
    events = gateway.p13n.events("faults", "events")
    return [Arrival(int(str(e["n"])), int(str(e["time"]))) for e in events]


def _opt_outs(gateway: Gateway) -> list[Arrival]:
    paths = [r.path for r in gateway.rr.received if "/optOut/" in r.path]
    return [Arrival(int(path.rsplit("user-", 1)[1]), None) for path in paths]


def _content_items(gateway: Gateway) -> list[Arrival]:
    calls = [r for r in gateway.rr.received if r.path == CONTENT_PREFIX]
    return [Arrival(int(item["rating"]), None) for call in calls for item in call.json()]


KINDS = [
    WriteKind("td.postback", lambda g: g.td, _postback_send, _td_records, rotate_td_write_key),
    WriteKind(
        "td.personalization",
        lambda g: g.p13n,
        _personalization_send,
        _p13n_events,
        rotate_td_api_key,
        inline_retry=True,
    ),
    WriteKind("rr.opt_out", lambda g: g.rr, _opt_out_send, _opt_outs, rotate_rr_client_secret),
    WriteKind("rr.content", lambda g: g.rr, _content_send, _content_items, rotate_rr_client_secret),
]


@pytest.fixture
def sqs_proxy(
    aws_proxy: Callable[[str], SwitchableProxy], monkeypatch: pytest.MonkeyPatch
) -> SwitchableProxy:
    monkeypatch.setenv("UPSTREAM_TIMEOUT_SECONDS", "0.3")
    return aws_proxy("SQS")


def warm_replay(gateway: Gateway) -> None:
    """The in-process retry function (its secret cached from its first use) replays two
    batches, as it does all along while the vendor has faults."""
    poller = gateway.retry_poller()
    for _ in range(2):
        poller.poll_once()


@pytest.fixture
def sandbox_credentials(gateway: Gateway) -> Iterator[None]:
    """The session's sandboxes take their original credentials again after a rotation (their
    reset restores the TD write keys, not these)."""
    client_secret, api_key = gateway.rr.client_secret, gateway.p13n.api_key
    yield
    gateway.rr.client_secret, gateway.p13n.api_key = client_secret, api_key


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_accepted_is_delivered_through_faults_rotation_and_outage(
    gateway: Gateway,
    sqs_proxy: SwitchableProxy,
    sandbox_credentials: None,
    kind: WriteKind,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with captured_logs() as logs:
        _run(gateway, sqs_proxy, kind, tmp_path, capsys, logs)


def _run(
    gateway: Gateway,
    sqs_proxy: SwitchableProxy,
    kind: WriteKind,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    logs: io.StringIO,
) -> None:
    sandbox = kind.sandbox(gateway)
    sent: dict[int, Sent] = {}
    window: dict[int, tuple[int, int]] = {}  # request -> epoch seconds before and after it
    rotation: Rotation | None = None
    outage = [0.0, 0.0]  # monotonic start and end of OUTAGE_AT
    for n in range(REQUESTS):
        if n in WARM_REPLAYS:
            warm_replay(gateway)
        if n == ROTATION_AT:
            rotation = kind.rotate(gateway)
            # The vendor has a bad moment as the key changes: the first call after it fails
            # transiently, so the next one (a retry, or the next write) meets the new key.
            sandbox.clear_faults()
            sandbox.add_fault(status=503, count=1)
            add_faults(sandbox, FAULT_MIX, seed=n)
        down = n in OUTAGE_AT or n in BOTH_DOWN
        if n == 0 or down != (n - 1 in OUTAGE_AT or n - 1 in BOTH_DOWN):
            sandbox.clear_faults()
            add_faults(sandbox, OUTAGE if down else FAULT_MIX, seed=n)
        if n in (OUTAGE_AT.start, OUTAGE_AT.stop):
            outage[n == OUTAGE_AT.stop] = time.monotonic()
        sqs_proxy.up = n not in SQS_DOWN
        before = int(time.time())
        sent[n] = kind.send(gateway, n)
        window[n] = (before, int(time.time()))
    sqs_proxy.up = True
    assert rotation is not None

    statuses = Counter(s.status for s in sent.values())
    accepted = {n for n, s in sent.items() if s.accepted}
    queued = {n for n, s in sent.items() if s.queued}
    refused = set(sent) - accepted
    stale_before_drain = rotation.stale_calls(sandbox)

    sandbox.clear_faults()  # the vendor recovers
    with retry_workers(tmp_path) as pool:
        recovery = recovery_drain(gateway, sandbox, pool)

    arrivals = kind.delivered(gateway)
    delivered = Counter(a.n for a in arrivals)
    lost = accepted - set(delivered)
    parked = gateway.queue_depth("DeadLetterQueue")
    duplicated = {n for n, count in delivered.items() if count > 1}
    duplicates = sum(delivered[n] - 1 for n in duplicated)
    refused_yet_arrived = refused & set(delivered)
    # A write delivered at once is delivered once: every duplicate is a write the vendor took
    # after the gateway stopped waiting (then queued, or refused when SQS was down), or, with
    # an in-line retry, delivered by that retry.
    unexplained = {n for n in duplicated if not (sent[n].queued or n in refused)}
    if kind.inline_retry:
        unexplained = set()
    timed = [(a.n, a.time) for a in arrivals if a.time is not None]
    off_time = [(n, t) for n, t in timed if not window[n][0] <= t <= window[n][1]]
    replay_lag = max((int(time.time()) - window[n][1] for n in queued & set(delivered)), default=0)
    with capsys.disabled():  # the figures README's Guarantees quotes, in the test log
        print(
            f"\n{kind.name}: {dict(sorted(statuses.items()))}; accepted {len(accepted)} "
            f"({len(queued)} queued), lost {len(lost)}, parked {parked}, "
            f"duplicates {duplicates} (of {len(duplicated)} writes), "
            f"refused but arrived {len(refused_yet_arrived)}; "
            f"rotation: {stale_before_drain} calls with the old credential; "
            f"outage: {len(OUTAGE_AT)} writes in {outage[1] - outage[0]:.0f} s, "
            f"{recovery.queued_at_start} envelopes at recovery, drained in "
            f"{recovery.seconds:.1f} s, peak {recovery.vendor_peak} vendor calls in flight "
            f"(cap {recovery.max_concurrency} x {recovery.batch_size} = {recovery.cap}), "
            f"peak {recovery.invocations_peak} invocations; "
            f"records off their acceptance second: {len(off_time)} of {len(timed)}, "
            f"oldest replay {replay_lag} s after acceptance"
        )

    # No 502: no write was parked for the rotated credential (nor for anything else).
    assert set(statuses) <= {200, 202, 204, 429, 503}, statuses
    assert stale_before_drain, "no call met the rotated credential: nothing was tested"
    assert statuses[429], statuses  # the mix really produced each outcome
    assert refused - {n for n in refused if sent[n].status == 429}, "no refusal but 429s"
    # Refused other than by a 429 only when the envelope could not be queued (SQS down).
    assert {n for n in refused if sent[n].status != 429} <= set(SQS_DOWN)
    # The outage: every vendor call failed, so every write of it was queued.
    assert {n for n in OUTAGE_AT if not sent[n].queued} == set(), "a call got through the outage"
    assert not lost, f"accepted writes that never arrived: {sorted(lost)[:10]}"
    assert parked == 0
    assert gateway.queue_depth("RetryQueue") == 0
    assert not unexplained, f"duplicates of writes delivered at once: {sorted(unexplained)[:10]}"
    assert not off_time, f"records not at their acceptance time: {off_time[:5]}"
    assert 0 < recovery.vendor_peak <= recovery.cap
    assert recovery.invocations_peak <= recovery.max_concurrency
    # A rotated secret is a secret: in no log line, no output.
    assert rotation.new_value not in logs.getvalue() + capsys.readouterr().out
