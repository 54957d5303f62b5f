"""RetryFunction against moto and the TD sandbox: success, backoff, DLQ, malformed envelopes,
and 200 records through a 30% outage with nothing lost."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest

from gateway.core.envelope import Envelope, LastError
from tests.integration.conftest import TEMPLATE, Gateway
from tests.integration.td_support import postback

# The event source mapping's batch: what one invocation of the retry function replays.
BATCH_SIZE = int(TEMPLATE.function("RetryFunction").sqs_sources[0]["BatchSize"])


def enqueue(gateway: Gateway, body: str) -> None:
    gateway.sqs.send_message(QueueUrl=gateway.refs["RetryQueue"], MessageBody=body)


def envelope(record: dict[str, Any], **request: Any) -> str:
    return Envelope(
        kind="td.postback",
        request={"database": "web_events", "table": "pageviews", "record": record, **request},
        lastError=LastError(status=503, detail="test"),
    ).to_json()


def test_replayed_envelope_is_delivered_and_deleted(gateway: Gateway) -> None:
    enqueue(gateway, envelope({"user_id": "r-1"}))

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (1, 0)
    assert gateway.td.records("web_events", "pageviews") == [{"user_id": "r-1"}]
    assert gateway.queue_depth("RetryQueue") == 0
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_a_batchs_items_are_delivered_concurrently(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSTREAM_TIMEOUT_SECONDS", "10")
    for n in range(BATCH_SIZE):
        enqueue(gateway, envelope({"user_id": f"r-c-{n}"}))
    # Long enough for every item's call to be in flight at once, even on a loaded machine where
    # their idempotency records (moto, one process) are written one after another.
    gateway.td.latency_ms = 1500

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (BATCH_SIZE, 0)
    # At least: a call another test left hanging at the sandbox may still be counted.
    assert gateway.td.peak_in_flight >= BATCH_SIZE


def test_retryable_failure_is_reported_and_backed_off(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETRY_BACKOFF_BASE_SECONDS", "30")
    enqueue(gateway, envelope({"user_id": "r-2"}))
    enqueue(gateway, envelope({"user_id": "r-3"}))
    gateway.td.add_fault(status=503, count=1)

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (2, 1)
    assert len(gateway.td.received) == 1
    # The failed item stays on RetryQueue, hidden for the backoff (>= 80% of 30 s).
    assert gateway.queue_depth("RetryQueue") == 1
    assert gateway.retry_poller().poll_once().received == 0


def test_whole_batch_failing_reports_every_item(gateway: Gateway, lambda_context: Any) -> None:
    for n in range(3):
        enqueue(gateway, envelope({"user_id": f"r-all-{n}"}))
    gateway.td.add_fault(status=502)

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (3, 3)
    assert gateway.queue_depth("RetryQueue") == 3


def test_permanent_failure_is_parked_with_reason(gateway: Gateway) -> None:
    enqueue(gateway, envelope({"user_id": "r-4"}))
    gateway.td.add_fault(status=400, count=1, body={"error": "Bad Request"})

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (1, 0)
    assert gateway.queue_depth("RetryQueue") == 0
    [parked] = gateway.messages("DeadLetterQueue")
    body = json.loads(parked["Body"])
    assert body["request"]["record"] == {"user_id": "r-4"}
    assert body["attempt"] == 2
    assert body["lastError"]["status"] == 400
    assert parked["MessageAttributes"]["reason"]["StringValue"].startswith("permanent failure")


def test_rejected_credentials_on_replay_are_parked(gateway: Gateway) -> None:
    enqueue(gateway, envelope({"user_id": "r-5"}))
    gateway.td.add_fault(status=403, count=2)  # the call, and its repeat with the secret read again

    gateway.retry_poller().poll_once()

    [parked] = gateway.messages("DeadLetterQueue")
    assert json.loads(parked["Body"])["lastError"]["status"] == 403


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "malformed envelope"),
        ('{"v": 1, "kind": "td.postback"}', "malformed envelope"),
        (
            '{"v": 2, "id": "x", "kind": "td.postback", "request": {}, '
            '"lastError": {"detail": "x"}}',
            "malformed envelope",
        ),
        (
            '{"v": 1, "id": "x", "kind": "nope", "request": {}, "lastError": {"detail": "x"}}',
            "malformed envelope",
        ),
    ],
)
def test_malformed_envelope_is_parked_never_dropped(
    gateway: Gateway, body: str, reason: str
) -> None:
    enqueue(gateway, body)

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (1, 0)
    [parked] = gateway.messages("DeadLetterQueue")
    assert parked["Body"] == body
    assert parked["MessageAttributes"]["reason"]["StringValue"].startswith(reason)
    assert gateway.td.requests == []


def test_envelope_with_invalid_request_is_parked(gateway: Gateway) -> None:
    enqueue(gateway, envelope({"user_id": "r-6"}, table="bad-table!"))

    gateway.retry_poller().poll_once()

    [parked] = gateway.messages("DeadLetterQueue")
    assert "table" in parked["MessageAttributes"]["reason"]["StringValue"]
    assert gateway.td.requests == []


def test_exhausted_retries_are_parked_by_the_function(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETRY_MAX_RECEIVES", "3")
    enqueue(gateway, envelope({"user_id": "r-7"}))
    gateway.td.add_fault(status=503)

    gateway.drain()

    assert len(gateway.td.requests) == 3
    [parked] = gateway.messages("DeadLetterQueue")
    body = json.loads(parked["Body"])
    assert body["attempt"] == 4  # the in-line call plus three replays
    assert "retries exhausted" in parked["MessageAttributes"]["reason"]["StringValue"]


def test_two_hundred_records_through_a_30_percent_outage_nothing_lost(gateway: Gateway) -> None:
    gateway.td.add_fault(status=503, rate=0.3, seed=7)
    statuses = Counter()
    for n in range(200):
        statuses[postback(gateway, {"seq": n})["statusCode"]] += 1

    assert set(statuses) <= {200, 202}
    assert statuses[202] > 0, "the outage should have queued some writes"
    queued = gateway.queue_depth("RetryQueue")
    assert queued == statuses[202]

    gateway.td.clear_faults()  # the vendor recovers
    batches = gateway.drain()

    delivered = Counter(r["seq"] for r in gateway.td.records("web_events", "pageviews"))
    assert set(delivered) == set(range(200)), "every record reaches TD"
    duplicates = sum(count - 1 for count in delivered.values())
    print(
        f"200 records: {statuses[200]} delivered in-line, {statuses[202]} queued, "
        f"drained in {batches} batches, {duplicates} duplicates"
    )
    assert gateway.queue_depth("DeadLetterQueue") == 0
    assert duplicates == 0


def test_items_of_a_batch_are_replayed_concurrently(gateway: Gateway) -> None:
    for n in range(10):
        enqueue(gateway, envelope({"user_id": f"r-c-{n}"}))
    gateway.td.latency_ms = 200  # long enough for calls to overlap if they run side by side

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (10, 0)
    assert gateway.td.peak_in_flight > 1


def test_a_first_batch_makes_one_idempotency_store(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh function's first batch: its items ask for the envelope store all at once, and one
    store is made. Every store Powertools makes registers its User-Agent hook on the DynamoDB
    client they share: the ten a race made (in Lambda the first batch imports Powertools
    Idempotency meanwhile) left ten hooks running on each of that client's calls."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    make = DynamoDBPersistenceLayer.__init__
    made: list[str] = []

    def slow_to_make(store: Any, *args: Any, **kwargs: Any) -> None:
        make(store, *args, **kwargs)
        made.append(type(store).__name__)
        time.sleep(0.2)  # as long as that first import: every item arrives meanwhile

    monkeypatch.setattr(DynamoDBPersistenceLayer, "__init__", slow_to_make)
    for n in range(BATCH_SIZE):
        enqueue(gateway, envelope({"user_id": f"r-store-{n}"}))

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (BATCH_SIZE, 0)
    assert made == ["GroupCommittedStore"]


def test_a_batchs_records_share_one_write_when_its_items_finish_apart(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vendor answers a batch's items some milliseconds apart, as a real vendor does: the
    first item to finish waits for the others' records (within the linger) instead of writing
    its own alone. Before the linger, such a batch took several BatchWriteItem calls."""
    from gateway.aws import group_commit
    from gateway.vendors.http_session import VendorSession

    monkeypatch.setattr(group_commit, "LINGER_SECONDS", 30.0)  # here, only arrivals end it
    writes: list[int] = []
    write = group_commit.GroupCommit._write

    def counted(writer: Any, items: list[dict[str, Any]]) -> None:
        writes.append(len(items))
        write(writer, items)

    monkeypatch.setattr(group_commit.GroupCommit, "_write", counted)
    # Every item is at the vendor before the first answer (the items took part from their
    # start), whatever the machine's load; the answers then come 10 ms apart.
    at_the_vendor = threading.Barrier(BATCH_SIZE, timeout=20)
    send, answered = VendorSession.send, iter(range(100))

    def apart(session: Any, *args: Any, **kwargs: Any) -> Any:
        at_the_vendor.wait()
        response = send(session, *args, **kwargs)
        time.sleep(0.01 * next(answered))  # the n-th answer n x 10 ms after the first
        return response

    monkeypatch.setattr(VendorSession, "send", apart)
    for n in range(BATCH_SIZE):
        enqueue(gateway, envelope({"user_id": f"r-apart-{n}"}))

    result = gateway.retry_poller().poll_once()

    assert (result.received, result.failed) == (BATCH_SIZE, 0)
    assert writes == [BATCH_SIZE]
