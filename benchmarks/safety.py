"""The cost of safety: the AWS calls each write makes, by kind, on its first attempt and on a
replay, and how many of them the ordering and circuit state (DeliveryStateTable) adds: the
same invocation recorded with that table configured and without it (benchmarks.work). The
target: at most one such call per write, and none for the kinds without an order to keep."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from benchmarks import work
from benchmarks.backing import EVENTS, Backing
from benchmarks.work_floor import Call

# (kind, function, event): a write on its first attempt, then the retry function's replay.
WRITES = [
    ("td.postback", "PostbackFunction", "postback-accepted.json"),
    ("td.postback (TD JS SDK)", "PostbackFunction", "td-js-sdk-addrecord-accepted.json"),
    ("td.personalization", "PersonalizationFunction", "personalization-accepted.json"),
    ("rr.opt_out", "RichRelevanceFunction", "richrelevance-opt-out-accepted.json"),
    ("rr.content (PUT)", "RichRelevanceFunction", "richrelevance-content-put-accepted.json"),
    ("rr.content (PATCH)", "RichRelevanceFunction", "richrelevance-content-patch-accepted.json"),
]
REPLAYS = [
    ("td.postback", "retry-td-postback.json"),
    ("td.personalization", "retry-td-personalization.json"),
    ("rr.opt_out", "retry-rr-opt-out.json"),
    ("rr.content", "retry-rr-content.json"),
]
ORDERED = ("rr.opt_out", "rr.content")
BATCH = 10  # the retry event source's BatchSize


@dataclass
class SafetyCost:
    kind: str
    path: str  # "first attempt" or "replay"
    aws_calls: list[str]  # with the delivery state table
    state_calls: float  # of them, to the delivery state table (per envelope for a batch)
    aws_calls_without: float  # the same invocation without that table (per envelope)


def measure(backing: Backing) -> list[SafetyCost]:
    table = backing.refs["DeliveryStateTable"]
    costs = []
    for kind, function, example in WRITES:
        fn = backing.template.function(function)
        costs.append(_cost(backing, fn, kind, "first attempt", table, example=example))
    retry = backing.template.function("RetryFunction")
    for kind, example in REPLAYS:
        event = _with_sequence(json.loads((EVENTS / example).read_text()), kind)
        costs.append(_cost(backing, retry, kind, "replay", table, event=event))
        if kind in ORDERED:  # a full batch shares one read of its keys' ordering state
            batch = _batch_of(event, BATCH)
            costs.append(
                _cost(backing, retry, kind, f"replay, batch of {BATCH}", table, event=batch)
            )
    return costs


def _cost(backing: Backing, fn: Any, kind: str, path: str, table: str, **source: Any) -> SafetyCost:
    with work.handler(backing, fn, **source) as h:
        h.sent()  # the cold invocation: secrets, tokens, the circuit's first read
        calls, _ = h.sent()
    with work.handler(backing, fn, overrides={"DELIVERY_STATE_TABLE": ""}, **source) as h:
        h.sent()
        without, _ = h.sent()
    aws = [c for c in calls if "aws" in c]
    envelopes = len(source["event"]["Records"]) if "event" in source else 1
    return SafetyCost(
        kind,
        path,
        [f"{c['aws']} {c['operation']}" for c in aws],
        sum(table in _tables(c) for c in aws) / envelopes,
        sum("aws" in c for c in without) / envelopes,
    )


def _tables(call: Call) -> set[str]:
    params = call["params"]
    if "TableName" in params:
        return {params["TableName"]}
    actions = params.get("TransactItems", [])
    return {a["TableName"] for item in actions for a in item.values()} | set(
        params.get("RequestItems", {})
    )


def _batch_of(event: dict[str, Any], size: int) -> dict[str, Any]:
    """`size` copies of the event's envelope, each for keys of its own (another user, other
    item ids), as one SQS batch."""
    [record] = event["Records"]
    records = []
    for n in range(size):
        envelope = json.loads(record["body"])
        request = envelope["request"]
        if "user_id" in request:
            request["user_id"] = f"{request['user_id']}-{n}"
        for item in request.get("items", []):
            item["id"] = f"{item['id']}-{n}"
        envelope["id"] = f"{envelope['id'][:-2]}{n:02d}"
        records.append({**record, "messageId": f"m-{n}", "body": json.dumps(envelope)})
    return {**event, "Records": records}


def _with_sequence(event: dict[str, Any], kind: str) -> dict[str, Any]:
    """An ordered envelope as the gateway queues it now: stamped with its acceptance sequence."""
    if kind not in ORDERED:
        return event
    record = event["Records"][0]
    envelope = json.loads(record["body"])
    envelope["request"]["sequence"] = time.time_ns()
    return {**event, "Records": [{**record, "body": json.dumps(envelope)}]}
