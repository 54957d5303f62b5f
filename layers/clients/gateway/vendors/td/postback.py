"""Treasure Data Postback API client: POST /postback/v3/event/{database}/{table}."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator

from gateway.core.envelope import Kind, WriteRequest
from gateway.core.errors import PayloadTooLarge
from gateway.core.json_body import parse_json_object
from gateway.core.observability import logger
from gateway.core.outcome import VendorResponse
from gateway.vendors.http_session import raise_for_vendor_status
from gateway.vendors.td.names import check_destination_names, check_name

if TYPE_CHECKING:
    from gateway.context import Context

VENDOR = "treasure-data"
# TD keeps a record's own time only within this window; older records would be re-timed.
TIME_WINDOW_SECONDS = 7 * 86_400
TIME_FIELDS = ("time", "td_record_time")
# TD answers 413 above this many bytes, so the gateway refuses larger records itself.
MAX_RECORD_BYTES = 1_048_064


def now() -> int:
    """The acceptance stamp: the epoch second."""
    return int(time.time())


def check_allowed(context: Context, database: str, table: str) -> None:
    """TD's names (400), then the destination allow-list (403), before any body is read."""
    check_destination_names(
        database,
        table,
        patterns=context.settings.postback_destinations,
        setting="POSTBACK_DESTINATIONS",
    )


def compact_json(value: Any) -> bytes:
    """JSON as TD receives it: no spaces, UTF-8 as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def stamp_time(record: dict[str, Any], field: str) -> dict[str, Any]:
    """The record with the acceptance second in `field`, unless it has a time of its own
    (then the record itself is returned)."""
    if any(name in record for name in TIME_FIELDS):
        return record
    return {**record, field: now()}


def check_stamped_size(record_json: bytes) -> None:
    if len(record_json) > MAX_RECORD_BYTES:
        raise PayloadTooLarge(
            f"with the gateway's time stamp the record is over TD's {MAX_RECORD_BYTES} bytes; "
            "send it with a time of its own or smaller"
        )


def too_old(record: dict[str, Any], at: float) -> str | None:
    """EVENT_TOO_OLD when the record's time is past TD's window (TD would re-time it)."""
    stamped = next((record[f] for f in TIME_FIELDS if f in record), None)
    try:
        seconds = float(stamped) if stamped is not None else None
    except (TypeError, ValueError):
        return None  # not a time TD reads as epoch seconds: TD decides
    if seconds is not None and at - seconds > TIME_WINDOW_SECONDS:
        age = int(at - seconds)
        return f"EVENT_TOO_OLD: the record's time is {age} s old, beyond TD's 7-day window"
    return None


class TdWriteRequest(WriteRequest):
    """A write into one TD table, its names held to TD's rule (both TD write APIs)."""

    vendor: ClassVar[str] = VENDOR

    database: str
    table: str

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_name(value, what="database")

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return check_name(value, what="table")

    def _post(
        self,
        context: Context,
        url: str,
        headers: Callable[[str], dict[str, str]],
        *,
        fresh_credentials: bool,
    ) -> VendorResponse:
        """One call to TD with the gateway's write key, in the headers `headers(key)` gives."""
        secret = context.secrets.treasure_data(fresh=fresh_credentials)
        response = context.http.send(
            "POST",
            url,
            vendor=VENDOR,
            headers=headers(secret.write_key.get_secret_value()),
            data=self.body(),
        )
        raise_for_vendor_status(response, vendor=VENDOR)
        return VendorResponse.of(response)

    def body(self) -> bytes:
        raise NotImplementedError


class PostbackRequest(TdWriteRequest):
    kind: ClassVar[Kind] = "td.postback"

    record: dict[str, Any]

    @field_validator("record", mode="before")
    @classmethod
    def _record(cls, value: object) -> object:
        # The raw HTTP body is parsed here, after the path's names (fields validate in order).
        return (
            parse_json_object(value, max_bytes=MAX_RECORD_BYTES)
            if isinstance(value, bytes)
            else value
        )

    @classmethod
    def accepted(
        cls, context: Context, database: str, table: str, body: bytes | dict[str, Any]
    ) -> PostbackRequest:
        """The caller's record as the gateway takes it: names checked, the destination
        allowed, the body within the JSON limit. When accepted (`on_acceptance`), a record with
        no time of its own is stamped with that second, in the field the configured host
        honours (`time`; `td_record_time` on the Postback v2 host), so that a replay lands at
        that time."""
        check_allowed(context, database, table)
        return cls.model_validate({"database": database, "table": table, "record": body})

    def on_acceptance(self, context: Context, sequence: int) -> PostbackRequest:
        # The field the configured host honours: `td_record_time` on the Postback v2 host.
        field = "td_record_time" if context.settings.td_postback_is_v2 else "time"
        stamped = stamp_time(self.record, field)
        if stamped is self.record:
            return self
        request = self.model_copy(update={"record": stamped})
        check_stamped_size(request.body())
        return request

    def body(self) -> bytes:
        """The record as TD receives it."""
        return compact_json(self.record)

    def expired(self, now: float) -> str | None:
        return too_old(self.record, now)

    def send(self, context: Context, *, fresh_credentials: bool = False) -> VendorResponse:
        base = context.settings.td_postback_base
        if context.settings.td_postback_is_v2 and context.first_time("td-v2-host-warning"):
            # TD documents no call that checks a write key on this host: say so, loudly, once.
            logger.warning(
                "TD_POSTBACK_ENDPOINT is the Postback v2 host: it answers 200 to a wrong or "
                "revoked write key and drops the record later, so credential failures are "
                "invisible to the gateway (no 403, no parking). Use the region's document host "
                "unless you watch TD's import errors yourself.",
                extra={"td_postback_endpoint": base},
            )
        return self._post(
            context,
            f"{base}/postback/v3/event/{self.database}/{self.table}",
            lambda key: {"X-TD-Write-Key": key, "Content-Type": "application/json"},
            fresh_credentials=fresh_credentials,
        )
