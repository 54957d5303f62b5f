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


@dataclass
class SafetyCost:
    kind: str
    path: str  # "first attempt" or "replay"
    aws_calls: list[str]  # with the delivery state table
    state_calls: int  # of them, to the delivery state table
    aws_calls_without: int  # the same invocation without that table


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
    return costs


def _cost(backing: Backing, fn: Any, kind: str, path: str, table: str, **source: Any) -> SafetyCost:
    with work.handler(backing, fn, **source) as h:
        h.sent()  # the cold invocation: secrets, tokens, the circuit's first read
        calls, _ = h.sent()
    with work.handler(backing, fn, overrides={"DELIVERY_STATE_TABLE": ""}, **source) as h:
        h.sent()
        without, _ = h.sent()
    aws = [c for c in calls if "aws" in c]
    return SafetyCost(
        kind,
        path,
        [f"{c['aws']} {c['operation']}" for c in aws],
        sum(table in _tables(c) for c in aws),
        sum("aws" in c for c in without),
    )


def _tables(call: Call) -> set[str]:
    params = call["params"]
    return {params["TableName"]} if "TableName" in params else set(params.get("RequestItems", {}))


def _with_sequence(event: dict[str, Any], kind: str) -> dict[str, Any]:
    """An ordered envelope as the gateway queues it now: stamped with its acceptance sequence."""
    if kind not in ORDERED:
        return event
    record = event["Records"][0]
    envelope = json.loads(record["body"])
    envelope["request"]["sequence"] = time.time_ns()
    return {**event, "Records": [{**record, "body": json.dumps(envelope)}]}
