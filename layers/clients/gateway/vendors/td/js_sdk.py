"""What TD's browser SDK (td-js-sdk v4) sends to TD's ingestion endpoint, checked before any
vendor call, each event then delivered as a Postback write (docs/td-js-sdk.md).

The SDK posts `{"events": [record]}` as `application/vnd.treasuredata.v1+json` (`...v1.js+json`
in signed mode with a global id), with `Authorization: TD1 <writeKey>`: that header is never
read here. The SDK counts any 2xx as success and parses the body as JSON, treating a body it
cannot parse as `{}`; so a queued event (202) is a success to the page, as it should be."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gateway.core.errors import InvalidRequest, PayloadTooLarge
from gateway.core.json_body import parse_json_object
from gateway.core.outcome import Outcome, Queued, VendorResponse
from gateway.delivery import policy
from gateway.vendors.td.ingest import IngestRequest
from gateway.vendors.td.postback import (
    MAX_RECORD_BYTES,
    PostbackRequest,
    check_allowed,
    compact_json,
)

if TYPE_CHECKING:
    from gateway.context import Context

SDK_MEDIA_TYPES = frozenset(
    {"application/vnd.treasuredata.v1+json", "application/vnd.treasuredata.v1.js+json"}
)
# The SDK sends one event a request. A few more let another client batch, while every event
# still is one Postback call (and one retry envelope) inside the function's timeout.
MAX_EVENTS = 10
# TD's ingestion API takes at most 5 MB a batch; each event also stays within a record's limit.
MAX_BODY_BYTES = 5 * 1024 * 1024


def parse_events(raw: bytes) -> list[dict[str, Any]]:
    """The records of `{"events": [...]}`: 1 to MAX_EVENTS JSON objects, each within TD's
    record size. Other members are refused rather than dropped unseen."""
    body = parse_json_object(raw, max_bytes=MAX_BODY_BYTES)
    extra = sorted(set(body) - {"events"})
    if extra:
        raise InvalidRequest(
            f'body has members besides "events": {", ".join(extra)}',
            code="INVALID_EVENTS",
            errors=[
                {"pointer": f"/{name}", "detail": "is not an accepted property"} for name in extra
            ],
        )
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise InvalidRequest(
            'body must be {"events": [record, ...]} with at least one record',
            code="INVALID_EVENTS",
            errors=[{"pointer": "/events", "detail": "must be a non-empty JSON array"}],
        )
    if len(events) > MAX_EVENTS:
        raise PayloadTooLarge(
            f"{len(events)} events in one request; at most {MAX_EVENTS} are accepted",
            code="TOO_MANY_EVENTS",
        )
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise InvalidRequest(
                f"event {index} is not a JSON object",
                code="EVENT_NOT_OBJECT",
                errors=[{"pointer": f"/events/{index}", "detail": "must be a JSON object"}],
            )
        size = len(compact_json(event))
        if size > MAX_RECORD_BYTES:
            raise PayloadTooLarge(
                f"event {index} is {size} bytes; at most {MAX_RECORD_BYTES} are accepted",
                errors=[{"pointer": f"/events/{index}", "detail": "is too large"}],
            )
    return events


def idempotency_keys(key: str | None, count: int) -> list[str | None]:
    """One key per event: the caller's for a single event (the SDK's case), suffixed with the
    event's index in a batch, so a repeated batch repeats none of its events."""
    if key is None:
        return [None] * count
    if count == 1:
        return [key]
    return [f"{key}#{index}" for index in range(count)]


def answer(outcomes: Sequence[Outcome]) -> tuple[int, dict[str, Any]]:
    """Status and JSON body for the SDK: 200 when TD took every event, 202 when any is queued
    for retry (the SDK's success either way). One receipt per event, in order."""
    receipts: list[dict[str, Any]] = [
        {"status": "queued", "retryId": o.retry_id} if isinstance(o, Queued) else {"status": "ok"}
        for o in outcomes
    ]
    queued = [r["retryId"] for r in receipts if r["status"] == "queued"]
    if not queued:
        return 200, {"status": "ok", "receipts": receipts}
    return 202, {"status": "queued", "retryId": queued[0], "receipts": receipts}


def ingest(
    context: Context,
    database: str,
    table: str,
    body: bytes,
    *,
    idempotency_key: str | None,
    caller: str | None,
) -> VendorResponse:
    """Every event of the SDK's request delivered by the policy, as the postback route
    delivers a record (same destinations, retry queue and idempotency); one answer for all.
    With TD_JS_SDK_API=ingest, the request's events are one Data Ingestion API call instead."""
    check_allowed(context, database, table)
    records = parse_events(body)
    if context.settings.td_js_sdk_api == "ingest":
        outcome = policy.submit(
            context,
            IngestRequest(database=database, table=table, events=records),
            idempotency_key=idempotency_key,
            caller=caller,
        )
        outcomes: list[Outcome] = [outcome] * len(records)
    else:
        outcomes = [
            policy.submit(
                context,
                PostbackRequest.accepted(context, database, table, record),
                idempotency_key=key,
                caller=caller,
            )
            for record, key in zip(
                records, idempotency_keys(idempotency_key, len(records)), strict=True
            )
        ]
    status, answer_body = answer(outcomes)
    return VendorResponse(
        status=status,
        body=json.dumps(answer_body),
        content_type="application/json",
        replayed=any(o.replayed for o in outcomes),
    )
