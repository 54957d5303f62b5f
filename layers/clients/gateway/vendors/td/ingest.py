"""TD's Data Ingestion API client: `POST {records.in host}/{database}/{table}` with
`{"events": [record, ...]}`, the TD JS SDK route's delivery when TD_JS_SDK_API=ingest.

What the browser SDK itself sends to that host: `Authorization: TD1 <write key>` and TD's
`application/vnd.treasuredata.v1+json` type. TD takes at most 500 records a call, 5 MB a call
and about 1 MB a record. The host is the Postback v2 host, which answers 200 to a wrong key
and drops the records later: the reason the Postback API is the default (docs/td-js-sdk.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from gateway.core.envelope import Kind
from gateway.core.outcome import VendorResponse
from gateway.vendors.td.postback import (
    TdWriteRequest,
    check_stamped_size,
    compact_json,
    stamp_time,
    too_old,
)

if TYPE_CHECKING:
    from gateway.context import Context

MEDIA_TYPE = "application/vnd.treasuredata.v1+json"
MAX_EVENTS = 500  # TD's limit per call


class IngestRequest(TdWriteRequest):
    """All events of one SDK request: one call, one envelope, delivered or retried together."""

    kind: ClassVar[Kind] = "td.ingest"

    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_EVENTS)

    def on_acceptance(self, context: Context, sequence: int) -> IngestRequest:
        # `time`: the field the SDK itself reads a record's time from.
        events = [stamp_time(event, "time") for event in self.events]
        for event in events:
            check_stamped_size(compact_json(event))
        return self.model_copy(update={"events": events})

    def expired(self, now: float) -> str | None:
        return next((reason for e in self.events if (reason := too_old(e, now))), None)

    def body(self) -> bytes:
        return compact_json({"events": self.events})

    def send(self, context: Context, *, fresh_credentials: bool = False) -> VendorResponse:
        return self._post(
            context,
            f"{context.settings.td_ingest_base}/{self.database}/{self.table}",
            lambda key: {
                "Authorization": f"TD1 {key}",
                "Content-Type": MEDIA_TYPE,
                "Accept": MEDIA_TYPE,
            },
            fresh_credentials=fresh_credentials,
        )
