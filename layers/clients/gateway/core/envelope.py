"""The retry envelope (docs/delivery.md): everything needed to repeat a write, never a secret;
and the write request it carries, which knows how to send itself."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from gateway.core.errors import GatewayError, UpstreamError

if TYPE_CHECKING:
    from gateway.context import Context
    from gateway.core.outcome import Fate, VendorResponse

Kind = Literal["td.postback", "td.ingest", "td.personalization", "rr.opt_out", "rr.content"]
# The idempotency scope of a replay, keyed by envelope id (the delivery policy's, whose records
# the idempotency stores group-commit).
ENVELOPE_SCOPE = "envelope"


class WriteRequest(BaseModel):
    """A vendor write that can be repeated from its JSON form (the envelope's `request`).
    `kind` names it in the envelope; the replay table is built from these classes."""

    # Each request class builds its validator when first used: a function imports the
    # classes of every kind it may replay or queue, and uses one or two (cold start).
    model_config = ConfigDict(defer_build=True)

    kind: ClassVar[Kind]
    vendor: ClassVar[str]  # whose circuit the retry function watches for it

    def send(self, context: Context, *, fresh_credentials: bool = False) -> VendorResponse:
        """One call to the vendor: its success, or the `UpstreamError` its answer maps to.
        `fresh_credentials`: read the secret again first (after the vendor refused it)."""
        raise NotImplementedError

    def on_acceptance(self, context: Context, sequence: int) -> Self:
        """This write as it is accepted (after the `Idempotency-Key` check, so that a repeat
        compares equal): what it records of the moment, e.g. a time stamp."""
        return self

    def expired(self, now: float) -> str | None:
        """Why a replay at `now` would no longer land as accepted (then it is parked), or None."""
        return None

    def receipt(self, response: VendorResponse) -> dict[str, Any]:
        """What the retry function logs of a delivered replay (the vendor's reference to it): a
        caller's own write has the vendor's answer passed back instead."""
        return {}


class OrderedRequest(WriteRequest):
    """A write for whose keys (a user, content items) the last accepted write wins: stamped
    with its `sequence` (nanoseconds since the epoch) when accepted, so that a replay overtaken
    by a later accepted write is acknowledged without a call (docs/delivery.md, "Order")."""

    sequence: int | None = None

    def on_acceptance(self, context: Context, sequence: int) -> Self:
        return self.model_copy(update={"sequence": sequence})

    def ordering_keys(self) -> list[str]:
        raise NotImplementedError

    def without(self, keys: set[str]) -> Self | None:
        """This write less what concerns `keys` (overtaken); None when nothing is left."""
        raise NotImplementedError


class ChunkRequest(WriteRequest):
    """One part of a write sent in parts, each part a write (and an envelope) of its own."""

    def fate_entry(self, fate: Fate) -> dict[str, Any]:
        """How this part's fate is reported to the caller."""
        raise NotImplementedError


class LastError(BaseModel):
    model_config = ConfigDict(defer_build=True)  # only on a failure (cold start)

    status: int | None = None
    code: str | None = None
    detail: str


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # only on a failure or replay

    v: Literal[1] = 1
    id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=64)
    kind: Kind
    request: dict[str, Any]
    attempt: int = Field(default=1, ge=1)
    firstFailedAt: datetime = Field(default_factory=lambda: datetime.now(UTC))  # noqa: N815
    lastError: LastError  # noqa: N815

    @classmethod
    def for_failure(cls, kind: Kind, request: dict[str, Any], error: GatewayError) -> Envelope:
        return cls(kind=kind, request=request, lastError=last_error_of(error))

    def after(self, error: GatewayError, attempt: int) -> Envelope:
        """The same envelope, updated with the latest failure (for parking on the DLQ)."""
        return self.model_copy(update={"attempt": attempt, "lastError": last_error_of(error)})

    def to_json(self) -> str:
        return self.model_dump_json()


def last_error_of(error: GatewayError) -> LastError:
    status = error.upstream_status if isinstance(error, UpstreamError) else error.status
    return LastError(status=status, code=error.code, detail=error.detail)
