"""The delivery policy against in-memory fakes of its ports (retry queue, idempotency store) and
a scripted write: every disposition, first attempt and replay."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import pytest

from gateway.aws.idempotency import InProgress
from gateway.context import Context
from gateway.core.envelope import Envelope, Kind, WriteRequest
from gateway.core.errors import (
    GatewayError,
    IdempotencyKeyInUse,
    RetryQueueUnavailable,
    UpstreamAuth,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamUnavailable,
)
from gateway.core.outcome import Outcome, Queued, VendorResponse
from gateway.core.settings import Settings
from gateway.delivery import policy

OK = VendorResponse(status=200, body="{}", content_type="application/json")


class FakeQueue:
    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.queued: list[Envelope] = []
        self.parked: list[tuple[str, str]] = []  # (body, reason)
        self.delays: list[int] = []

    def enqueue(self, envelope: Envelope) -> None:
        if self.down:
            raise RetryQueueUnavailable("queue down")
        self.queued.append(envelope)

    def park(self, body: str, reason: str, *, retry_id: str | None = None) -> None:
        self.parked.append((body, reason))

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append(seconds)


class FakeIdempotency:
    enabled = True

    def __init__(self) -> None:
        self.saved: dict[tuple[str, str], Outcome] = {}
        self.in_progress: set[tuple[str, str]] = set()
        self.taking_part_in: list[str] = []  # the group commits this item takes part in now

    @contextmanager
    def taking_part(self, scope: str) -> Iterator[None]:
        self.taking_part_in.append(scope)
        try:
            yield
        finally:
            self.taking_part_in.remove(scope)

    def once(self, scope: str, key: str, payload: Any, deliver: Callable[[], Outcome]) -> Outcome:
        if (scope, key) in self.in_progress:
            raise InProgress(key)
        if (scope, key) in self.saved:
            return dataclasses.replace(self.saved[(scope, key)], replayed=True)
        outcome = deliver()  # an error saves nothing, as Powertools deletes the record
        self.saved[(scope, key)] = outcome
        return outcome


# What the scripted vendor answers, call by call: a response or an error to raise.
script: list[VendorResponse | GatewayError] = []
calls: list[dict[str, Any]] = []


class ScriptedWrite(WriteRequest):
    kind: ClassVar[Kind] = "td.postback"
    n: int = 0

    def send(self, context: Context, *, fresh_credentials: bool = False) -> VendorResponse:
        taking_part_in = list(context.idempotency.taking_part_in)  # type: ignore[attr-defined]
        calls.append({"n": self.n, "fresh": fresh_credentials, "taking_part_in": taking_part_in})
        answer = script.pop(0)
        if isinstance(answer, GatewayError):
            raise answer
        return answer


def unavailable() -> UpstreamUnavailable:
    return UpstreamUnavailable("down", vendor="fake", upstream_status=503)


def refused() -> UpstreamAuth:
    return UpstreamAuth("bad key", vendor="fake", upstream_status=403)


@pytest.fixture
def context(monkeypatch: pytest.MonkeyPatch) -> Context:
    script.clear()
    calls.clear()
    context = Context(Settings(retry_max_receives=3, retry_backoff_base_seconds=30))
    context.__dict__["retry_queue"] = FakeQueue()
    context.__dict__["idempotency"] = FakeIdempotency()
    monkeypatch.setattr(policy, "request_classes", lambda: {"td.postback": ScriptedWrite})
    return context


def queue(context: Context) -> FakeQueue:
    fake: FakeQueue = context.retry_queue  # type: ignore[assignment]
    return fake


def test_accepted_write_is_the_vendors_answer(context: Context) -> None:
    script.append(OK)
    assert policy.submit(context, ScriptedWrite()) == OK
    assert queue(context).queued == []


def test_transient_failure_is_queued_with_the_error(context: Context) -> None:
    script.append(unavailable())
    outcome = policy.submit(context, ScriptedWrite(n=7))

    assert isinstance(outcome, Queued)
    [envelope] = queue(context).queued
    assert envelope.id == outcome.retry_id
    assert envelope.request == {"n": 7}
    assert envelope.lastError.status == 503


def test_queue_down_is_never_a_202(context: Context) -> None:
    queue(context).down = True
    script.append(unavailable())
    with pytest.raises(RetryQueueUnavailable):
        policy.submit(context, ScriptedWrite())


def test_throttled_first_attempt_tells_the_caller(context: Context) -> None:
    script.append(UpstreamThrottled("slow down", vendor="fake", upstream_status=429))
    with pytest.raises(UpstreamThrottled):
        policy.submit(context, ScriptedWrite())
    assert queue(context).queued == []


def test_rejected_write_tells_the_caller_and_parks_nothing(context: Context) -> None:
    script.append(UpstreamRejected("bad record", vendor="fake", upstream_status=400))
    with pytest.raises(UpstreamRejected):
        policy.submit(context, ScriptedWrite())
    assert queue(context).parked == []


def test_refused_credentials_are_read_again_before_parking(context: Context) -> None:
    script.extend([refused(), OK])
    assert policy.submit(context, ScriptedWrite()) == OK
    assert [c["fresh"] for c in calls] == [False, True]
    assert queue(context).parked == []


def test_credentials_refused_twice_park_the_write(context: Context) -> None:
    script.extend([refused(), refused()])
    with pytest.raises(UpstreamAuth):
        policy.submit(context, ScriptedWrite(n=3))
    [(body, reason)] = queue(context).parked
    assert json.loads(body)["request"] == {"n": 3}
    assert reason.startswith("upstream rejected credentials")


def test_inline_retry_is_an_option_of_the_policy(context: Context) -> None:
    script.extend([unavailable(), OK])
    assert policy.submit(context, ScriptedWrite(), inline_retry_delay=0) == OK
    assert len(calls) == 2


def test_idempotent_write_repeated_gets_the_first_answer(context: Context) -> None:
    script.append(unavailable())
    first = policy.submit(context, ScriptedWrite(), idempotency_key="k-1")
    again = policy.submit(context, ScriptedWrite(), idempotency_key="k-1")

    assert isinstance(first, Queued)
    assert isinstance(again, Queued)
    assert again.retry_id == first.retry_id
    assert again.replayed
    assert not first.replayed
    assert len(calls) == 1  # the vendor saw it once


def test_keys_are_scoped_to_their_caller(context: Context) -> None:
    script.extend([OK, OK])
    policy.submit(context, ScriptedWrite(), idempotency_key="order-1", caller="iam:alice")
    other = policy.submit(context, ScriptedWrite(), idempotency_key="order-1", caller="iam:bob")
    assert not other.replayed
    assert len(calls) == 2


def test_key_in_progress_elsewhere_is_a_409(context: Context) -> None:
    fake: FakeIdempotency = context.idempotency  # type: ignore[assignment]
    fake.in_progress.add(("key:td.postback", "k-2"))
    with pytest.raises(IdempotencyKeyInUse):
        policy.submit(context, ScriptedWrite(), idempotency_key="k-2")


def envelope_body(n: int = 0) -> str:
    return Envelope.for_failure("td.postback", {"n": n}, unavailable()).to_json()


def test_replay_delivered_is_done(context: Context) -> None:
    script.append(OK)
    policy.replay(context, envelope_body(), receive_count=1, receipt_handle="r")
    assert queue(context).parked == []
    assert queue(context).delays == []


def test_a_replay_takes_part_in_the_batchs_group_commit_until_it_ends(context: Context) -> None:
    """From before its delivery to its end, whether it delivers or parks: the first item of a
    batch to finish waits for this one's record, and no longer once it has ended."""
    fake: FakeIdempotency = context.idempotency  # type: ignore[assignment]
    script.extend([OK, UpstreamRejected("no", vendor="fake", upstream_status=400)])
    policy.replay(context, envelope_body(1), receive_count=1, receipt_handle="r")
    policy.replay(context, envelope_body(2), receive_count=1, receipt_handle="r")
    policy.replay(context, "not an envelope", receive_count=1, receipt_handle="r")

    assert [c["taking_part_in"] for c in calls] == [["envelope"], ["envelope"]]
    assert len(queue(context).parked) == 2
    assert fake.taking_part_in == []


def test_replay_redelivered_is_skipped(context: Context) -> None:
    script.append(OK)
    body = envelope_body()
    policy.replay(context, body, receive_count=1, receipt_handle="r")
    policy.replay(context, body, receive_count=2, receipt_handle="r")
    assert len(calls) == 1


def test_replay_transient_failure_backs_off_then_parks_when_exhausted(context: Context) -> None:
    body = envelope_body()
    for receive in (1, 2):
        script.append(unavailable())
        with pytest.raises(policy.RetryLater):
            policy.replay(context, body, receive_count=receive, receipt_handle="r")
    script.append(unavailable())
    policy.replay(context, body, receive_count=3, receipt_handle="r")

    first, second = queue(context).delays  # ~30 s, then ~60 s, less up to 20% jitter
    assert 24 <= first <= 30
    assert 48 <= second <= 60
    [(parked, reason)] = queue(context).parked
    assert reason.startswith("retries exhausted after 4 attempts")
    assert json.loads(parked)["attempt"] == 4


def test_replay_throttled_backs_off(context: Context) -> None:
    script.append(UpstreamThrottled("slow down", vendor="fake", upstream_status=429))
    with pytest.raises(policy.RetryLater):
        policy.replay(context, envelope_body(), receive_count=1, receipt_handle="r")
    assert queue(context).parked == []


def test_replay_rejected_is_parked_as_permanent(context: Context) -> None:
    script.append(UpstreamRejected("bad record", vendor="fake", upstream_status=400))
    policy.replay(context, envelope_body(), receive_count=1, receipt_handle="r")
    [(_, reason)] = queue(context).parked
    assert reason.startswith("permanent failure")


def test_replay_with_refused_credentials_reads_the_secret_again(context: Context) -> None:
    script.extend([refused(), OK])
    policy.replay(context, envelope_body(), receive_count=1, receipt_handle="r")
    assert queue(context).parked == []
    script.extend([refused(), refused()])
    policy.replay(context, envelope_body(1), receive_count=1, receipt_handle="r")
    [(_, reason)] = queue(context).parked
    assert reason.startswith("upstream rejected credentials")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "malformed envelope: invalid at (root)"),
        (
            Envelope.for_failure("td.postback", {"n": "x"}, unavailable()).to_json(),
            "malformed envelope: td.postback request is invalid at: n",
        ),
    ],
)
def test_malformed_envelope_is_parked_never_dropped(
    context: Context, body: str, reason: str
) -> None:
    policy.replay(context, body, receive_count=1, receipt_handle="r")
    assert queue(context).parked == [(body, reason)]
    assert calls == []
