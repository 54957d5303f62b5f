"""Treasure Data Postback API client: POST /postback/v3/event/{database}/{table}."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator

from gateway.core.envelope import Kind, WriteRequest
from gateway.core.json_body import parse_json_object
from gateway.core.outcome import VendorResponse
from gateway.vendors.http_session import raise_for_vendor_status
from gateway.vendors.td.names import check_name

if TYPE_CHECKING:
    from gateway.context import Context

VENDOR = "treasure-data"
# TD answers 413 above this many bytes, so the gateway refuses larger records itself.
MAX_RECORD_BYTES = 1_048_064


class PostbackRequest(WriteRequest):
    kind: ClassVar[Kind] = "td.postback"

    database: str
    table: str
    record: dict[str, Any]

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_name(value, what="database")

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return check_name(value, what="table")

    @field_validator("record", mode="before")
    @classmethod
    def _record(cls, value: object) -> object:
        # The raw HTTP body is parsed here, after the path's names (fields validate in order).
        return (
            parse_json_object(value, max_bytes=MAX_RECORD_BYTES)
            if isinstance(value, bytes)
            else value
        )

    def send(self, context: Context, *, fresh_credentials: bool = False) -> VendorResponse:
        base = context.settings.td_postback_base
        url = f"{base}/postback/v3/event/{self.database}/{self.table}"
        secret = context.secrets.treasure_data(fresh=fresh_credentials)
        response = context.http.send(
            "POST",
            url,
            vendor=VENDOR,
            headers={
                "X-TD-Write-Key": secret.write_key.get_secret_value(),
                "Content-Type": "application/json",
            },
            data=json.dumps(self.record, separators=(",", ":"), ensure_ascii=False).encode(),
        )
        raise_for_vendor_status(response, vendor=VENDOR)
        return VendorResponse.of(response)
