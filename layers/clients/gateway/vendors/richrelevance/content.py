"""RichRelevance Content Update API client: PUT/PATCH {base} with an array of content items,
sent in chunks of RR_CONTENT_CHUNK_SIZE. Each chunk is a write of its own (one envelope per
chunk), so a chunk the vendor accepted is never sent twice and a failed one is never lost."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from pydantic import Field, ValidationInfo, model_validator

from gateway.core.envelope import ChunkRequest, Kind, OrderedRequest
from gateway.core.errors import InvalidRequest
from gateway.core.outcome import Fate, Outcome, VendorResponse
from gateway.delivery import policy
from gateway.vendors.http_session import raise_for_vendor_status
from gateway.vendors.richrelevance import oauth
from gateway.vendors.richrelevance.content_items import Method, validate_items

if TYPE_CHECKING:
    from gateway.context import Context

VENDOR = oauth.VENDOR
# Lambda's synchronous payload limit; SQS's 1 MiB per envelope bounds a chunk separately.
MAX_BODY_BYTES = 6_000_000
ITEMS_VALIDATED = "items_validated"  # validation context: the items passed validate_items


class ContentRequest(ChunkRequest, OrderedRequest):
    """One chunk: the items to send and where they sit in the caller's array."""

    kind: ClassVar[Kind] = "rr.content"
    vendor: ClassVar[str] = VENDOR

    method: Method
    items: list[dict[str, Any]] = Field(min_length=1)
    chunk: int = Field(default=0, ge=0)
    chunks: int = Field(default=1, ge=1)
    first_item: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _items_follow_the_rules(self, info: ValidationInfo) -> ContentRequest:
        # A replayed envelope is checked again: a hand-edited one must not reach the vendor.
        # `chunked` validated the caller's items already, all at once (every error listed).
        if not (info.context or {}).get(ITEMS_VALIDATED):
            self.items = validate_items(self.method, self.items)
        return self

    def ordering_keys(self) -> list[str]:
        return [str(item["id"]) for item in self.items]

    def without(self, keys: set[str]) -> ContentRequest | None:
        items = [item for item in self.items if str(item["id"]) not in keys]
        return self.model_copy(update={"items": items}) if items else None

    def send(self, context: Context, *, fresh_credentials: bool = False) -> VendorResponse:
        base = context.settings.rr_content_update_base
        response = oauth.send(
            context,
            self.method,
            base,
            base,
            payload=self.items,
            fresh_credentials=fresh_credentials,
        )
        if response.status_code >= 300:  # the detail parses the body: only for a refusal
            raise_for_vendor_status(response, vendor=VENDOR, detail=_detail(response))
        return VendorResponse.of(response)

    def receipt(self, response: VendorResponse) -> dict[str, Any]:
        return {"tracking_id": tracking_id(response.body), "chunk": self.chunk}

    def fate_entry(self, fate: Fate) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "chunk": self.chunk,
            "firstItem": self.first_item,
            "itemCount": len(self.items),
            "status": fate.status,
        }
        found = tracking_id(fate.response.body) if fate.response is not None else None
        if found is not None:
            entry["trackingId"] = found
        if fate.retry_id is not None:
            entry["retryId"] = fate.retry_id
        return entry


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


def _summary(fates: list[tuple[ContentRequest, Fate]]) -> VendorResponse:
    """What happened to every chunk; 200 when all were accepted, 202 when some are queued."""
    entries = [chunk.fate_entry(fate) for chunk, fate in fates]
    body: dict[str, Any] = {
        "trackingIds": [e["trackingId"] for e in entries if "trackingId" in e],
        "chunks": entries,
    }
    retry_ids = [fate.retry_id for _, fate in fates if fate.retry_id]
    if retry_ids:
        body = {"status": "queued", "retryId": retry_ids[0], "retryIds": retry_ids, **body}
    return VendorResponse(
        status=202 if retry_ids else 200, body=json.dumps(body), content_type="application/json"
    )


def chunked(context: Context, method: Method, body: Any) -> list[ContentRequest]:
    """Every item validated, then the array cut into chunks of RR_CONTENT_CHUNK_SIZE."""
    if not isinstance(body, list):
        raise InvalidRequest("body must be a JSON array of content items", code="BODY_NOT_ARRAY")
    items = validate_items(method, body)
    size = context.settings.rr_content_chunk_size
    starts = range(0, len(items), size)
    return [
        ContentRequest.model_validate(
            {
                "method": method,
                "items": items[start : start + size],
                "chunk": n,
                "chunks": len(starts),
                "first_item": start,
            },
            context={ITEMS_VALIDATED: True},
        )
        for n, start in enumerate(starts)
    ]


def update(
    context: Context,
    method: Method,
    body: Any,
    *,
    idempotency_key: str | None = None,
    caller: str | None = None,
) -> Outcome:
    """Send the caller's array in chunks, each by the delivery policy; the answer lists every
    chunk's fate (200, or 202 when some are queued)."""
    return policy.submit_chunks(
        context,
        chunked(context, method, body),
        _summary,
        idempotency_key=idempotency_key,
        caller=caller,
    )
