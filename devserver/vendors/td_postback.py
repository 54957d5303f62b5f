"""Treasure Data Postback API sandbox (vendor-docs/td-postback-api.md)."""

from __future__ import annotations

import json
import re

from devserver.vendors.base import Reply, Request, VendorSandbox

PATH = re.compile(r"/postback/v3/event/(?P<database>[^/]+)/(?P<table>[^/]+)")
NAME = re.compile(r"[A-Za-z0-9_]+")
MAX_BYTES = 1_048_064  # DESIGN.md: TD answers 413 above this


class TdPostbackSandbox(VendorSandbox):
    name = "td-postback"

    def __init__(self, write_key: str = "sandbox-td-write-key", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.write_key = write_key

    def records(self, database: str, table: str) -> list[dict[str, object]]:
        """The records ingested into database.table, in arrival order."""
        prefix = f"/postback/v3/event/{database}/{table}"
        return [r.json() for r in list(self.received) if r.path == prefix]

    def handle(self, request: Request) -> Reply:
        match = PATH.fullmatch(request.path)
        if request.method != "POST" or not match:
            return Reply(404, {"error": "Not Found"})
        # The header wins over the td_write_key URL parameter (vendor document).
        key = request.header("X-TD-Write-Key") or next(
            iter(request.query.get("td_write_key", [])), None
        )
        if key != self.write_key:
            return Reply(403, {"error": "Forbidden"})
        if not (NAME.fullmatch(match["database"]) and NAME.fullmatch(match["table"])):
            return Reply(400, {"error": "Bad Request", "message": "invalid database or table name"})
        if len(request.body) > MAX_BYTES:
            return Reply(413, {"error": "Request Entity Too Large"})
        try:
            record = json.loads(request.body)
        except ValueError:
            return Reply(400, {"error": "Bad Request", "message": "body is not JSON"})
        if not isinstance(record, dict):
            return Reply(400, {"error": "Bad Request", "message": "body must be a JSON object"})
        return Reply(200, {})
