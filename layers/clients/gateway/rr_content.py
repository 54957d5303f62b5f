"""RichRelevance Content Update API client: PUT/PATCH {base} with an array of content items,
sent in chunks of RR_CONTENT_CHUNK_SIZE. Each chunk is a write of its own (one envelope per
chunk), so a chunk the vendor accepted is never sent twice and a failed one is never lost."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NoReturn

import requests
from pydantic import Field, model_validator

from gateway import http_session, rr_oauth, writes
from gateway.envelope import Envelope, Kind, WriteRequest
from gateway.errors import (
    GatewayError,
    InvalidRequest,
    UpstreamAuth,
    UpstreamError,
    UpstreamThrottled,
)
from gateway.observability import logger, metrics
from gateway.rr_content_items import Method, validate_items
from gateway.settings import get_settings
from gateway.vendor_response import VendorResponse

VENDOR = rr_oauth.VENDOR
# Lambda's synchronous payload limit; SQS's 1 MiB per envelope bounds a chunk separately.
MAX_BODY_BYTES = 6_000_000


class ContentRequest(WriteRequest):
    """One chunk: the items to send and where they sit in the caller's array."""

    kind: ClassVar[Kind] = "rr.content"

    method: Method
    items: list[dict[str, Any]] = Field(min_length=1)
    chunk: int = Field(default=0, ge=0)
    chunks: int = Field(default=1, ge=1)
    first_item: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _items_follow_the_rules(self) -> ContentRequest:
        # A replayed envelope is checked again: a hand-edited one must not reach the vendor.
        self.items = validate_items(self.method, self.items)
        return self


def send(request: ContentRequest) -> VendorResponse:
    base = get_settings().rr_content_update_base
    response = rr_oauth.send(request.method, base, base, payload=request.items)
    http_session.raise_for_vendor_status(response, vendor=VENDOR, detail=_detail(response))
    logger.info(
        "content chunk accepted",
        extra={"tracking_id": tracking_id(response.text), "chunk": request.chunk},
    )
    return VendorResponse.of(response)


def tracking_id(body: str) -> str | None:
    try:
        value = json.loads(body).get("trackingId")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def _detail(response: requests.Response) -> str:
    # The document's error body: {"code", "details", "message", "status": "error"}.
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        return f"{VENDOR} answered HTTP {status}: {body.get('message')} ({body.get('details')})"[
            :500
        ]
    return f"{VENDOR} answered HTTP {status}"


# failed: the vendor refused this chunk; not_sent: a later chunk, never sent because of it.
ChunkStatus = Literal["accepted", "queued", "parked", "failed", "not_sent", "not_queued"]


@dataclass
class ChunkOutcome:
    chunk: int
    first_item: int
    item_count: int
    status: ChunkStatus
    tracking_id: str | None = None
    retry_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "chunk": self.chunk,
            "firstItem": self.first_item,
            "itemCount": self.item_count,
            "status": self.status,
        }
        if self.tracking_id is not None:
            entry["trackingId"] = self.tracking_id
        if self.retry_id is not None:
            entry["retryId"] = self.retry_id
        return entry


@dataclass
class ContentUpdate:
    """What happened to every chunk; 200 when all were accepted, 202 when some are queued."""

    chunks: list[ChunkOutcome] = field(default_factory=list)

    @property
    def status(self) -> int:
        return 202 if self._retry_ids() else 200

    def body(self) -> dict[str, Any]:
        tracking_ids = [c.tracking_id for c in self.chunks if c.tracking_id]
        body: dict[str, Any] = {
            "trackingIds": tracking_ids,
            "chunks": [c.to_json() for c in self.chunks],
        }
        retry_ids = self._retry_ids()
        if retry_ids:
            body = {"status": "queued", "retryId": retry_ids[0], "retryIds": retry_ids, **body}
        return body

    def _retry_ids(self) -> list[str]:
        return [c.retry_id for c in self.chunks if c.retry_id]


def update_once(
    method: Method, body: Any, *, idempotency_key: str | None
) -> tuple[int, dict[str, Any], bool]:
    """`update` that a caller may repeat with the same `Idempotency-Key`: the first answer
    (200 or 202 with its chunks) comes back instead of a second delivery.
    Returns (status, body, replayed)."""

    def deliver() -> dict[str, Any]:
        result = update(method, body)
        return {"status": result.status, "body": result.body()}

    if idempotency_key is None:
        saved, replayed = deliver(), False
    else:
        from gateway import idempotency  # only a request with a key needs the store

        payload = {"method": method, "items": body}
        saved, replayed = idempotency.once_per_key("rr.content", idempotency_key, payload, deliver)
    return saved["status"], saved["body"], replayed


def update(method: Method, body: Any) -> ContentUpdate:
    """Validate every item, then send the chunks in order. After a retryable failure the failed
    chunk and every later one are queued (202); a refusal of our credentials parks them (502)."""
    if not isinstance(body, list):
        raise InvalidRequest("body must be a JSON array of content items", code="BODY_NOT_ARRAY")
    items = validate_items(method, body)
    size = get_settings().rr_content_chunk_size
    starts = range(0, len(items), size)
    chunks = [
        ContentRequest(
            method=method,
            items=items[start : start + size],
            chunk=n,
            chunks=len(starts),
            first_item=start,
        )
        for n, start in enumerate(starts)
    ]
    result = ContentUpdate()
    for position, request in enumerate(chunks):
        try:
            response = send(request)
        except UpstreamError as exc:
            _after_failure(result, chunks[position:], exc)
            return result
        metrics.add_metric(name="Delivered", unit="Count", value=1)
        result.chunks.append(_outcome(request, "accepted", tracking_id=tracking_id(response.body)))
    return result


def _after_failure(
    result: ContentUpdate, pending: list[ContentRequest], error: UpstreamError
) -> None:
    accepted_some = bool(result.chunks)
    # A 429 goes back to the caller only while nothing was accepted: a caller repeating the
    # whole array would send the accepted chunks twice.
    if error.retryable and (accepted_some or not isinstance(error, UpstreamThrottled)):
        for request in pending:
            try:
                retry_id = writes.queue_for_retry(request, error)
            except GatewayError as queue_error:
                _fail_with_chunks(queue_error, result, pending, "not_queued")
            result.chunks.append(_outcome(request, "queued", retry_id=retry_id))
        return
    if isinstance(error, UpstreamAuth):
        for request in pending:
            writes.park_for_credentials(
                Envelope.for_failure(request.kind, request.model_dump(mode="json"), error), error
            )
            result.chunks.append(_outcome(request, "parked"))
        _fail_with_chunks(error, result, [], "parked")
    result.chunks.append(_outcome(pending[0], "failed"))
    _fail_with_chunks(error, result, pending[1:], "not_sent")


def _fail_with_chunks(
    error: GatewayError,
    result: ContentUpdate,
    pending: list[ContentRequest],
    status: ChunkStatus,
) -> NoReturn:
    """Raise `error` with every chunk's fate in `errors`, so the caller resends only the rest."""
    done = {c.chunk for c in result.chunks}
    left = [_outcome(r, status) for r in pending if r.chunk not in done]
    error.errors = [*error.errors, *(c.to_json() for c in [*result.chunks, *left])]
    raise error


def _outcome(
    request: ContentRequest,
    status: ChunkStatus,
    *,
    tracking_id: str | None = None,
    retry_id: str | None = None,
) -> ChunkOutcome:
    return ChunkOutcome(
        chunk=request.chunk,
        first_item=request.first_item,
        item_count=len(request.items),
        status=status,
        tracking_id=tracking_id,
        retry_id=retry_id,
    )
