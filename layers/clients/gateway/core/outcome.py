"""What a delivery came to: the vendor's answer, kept as-is so that handlers can pass it through,
or the write queued for retry. Both are saved as the answer to an `Idempotency-Key`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import requests

    from gateway.core.errors import GatewayError


@dataclass(frozen=True)
class VendorResponse:
    status: int
    body: str
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False  # the saved answer to an earlier request with the same Idempotency-Key

    @classmethod
    def of(
        cls, response: requests.Response, *, keep_headers: tuple[str, ...] = ()
    ) -> VendorResponse:
        kept = {name: response.headers[name] for name in keep_headers if name in response.headers}
        return cls(
            status=response.status_code,
            body=body_text(response),
            content_type=response.headers.get("Content-Type"),
            headers=kept,
        )


def body_text(response: requests.Response) -> str:
    """The body as text in the charset its Content-Type names, else UTF-8 (JSON's only encoding,
    which every vendor here answers with). Never requests' `.text` guess: for a type it does not
    know (TD's `application/vnd.treasuredata.v1+json`) it runs charset detection, which costs
    about 0.1 ms a call and read short UTF-8 German text as Korean CP949."""
    charset = response.encoding or "utf-8"
    try:
        return response.content.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return response.content.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Queued:
    """The write failed retryably and its envelope is durably on RetryQueue."""

    retry_id: str
    replayed: bool = False
    # The failure that queued it (a read answering 503 says why); never saved.
    error: GatewayError | None = field(default=None, compare=False)


Outcome = VendorResponse | Queued

# accepted / queued / parked: what the policy did; failed: the vendor refused this chunk;
# not_sent / not_queued: a later chunk, left alone because of an earlier one's failure.
ChunkStatus = Literal["accepted", "queued", "parked", "failed", "not_sent", "not_queued"]


@dataclass(frozen=True)
class Fate:
    """What became of one chunk of a write sent in parts."""

    status: ChunkStatus
    response: VendorResponse | None = None
    retry_id: str | None = None


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    fields = {f.name: getattr(outcome, f.name) for f in dataclasses.fields(outcome)}
    fields.pop("error", None)
    fields.pop("replayed", None)
    return {"type": type(outcome).__name__, **fields}


def outcome_from_dict(saved: dict[str, Any]) -> Outcome:
    fields = {k: v for k, v in saved.items() if k != "type"}
    return Queued(**fields) if saved["type"] == "Queued" else VendorResponse(**fields)
