"""Treasure Data Postback API client: POST /postback/v3/event/{database}/{table}."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import field_validator

from gateway import http_session, secrets
from gateway.envelope import Kind, WriteRequest
from gateway.json_body import parse_json_object
from gateway.settings import get_settings
from gateway.td_names import check_name
from gateway.vendor_response import VendorResponse

VENDOR = "treasure-data"
# DESIGN.md: TD answers 413 above this many bytes, so the gateway refuses larger records itself.
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


def send(request: PostbackRequest) -> VendorResponse:
    url = f"{get_settings().td_postback_base}/postback/v3/event/{request.database}/{request.table}"
    write_key = secrets.treasure_data().write_key.get_secret_value()
    response = http_session.send(
        "POST",
        url,
        vendor=VENDOR,
        headers={"X-TD-Write-Key": write_key, "Content-Type": "application/json"},
        data=json.dumps(request.record, separators=(",", ":"), ensure_ascii=False).encode(),
    )
    http_session.raise_for_vendor_status(response, vendor=VENDOR)
    return VendorResponse.of(response)
