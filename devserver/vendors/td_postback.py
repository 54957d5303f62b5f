"""Treasure Data Postback API sandbox: `POST /postback/v3/event/{database}/{table}` with one JSON
record, the write key in `X-TD-Write-Key` (or the `td_write_key` URL parameter; the header wins).

It answers as one of TD's two ingestion hosts, its `mode`:
  document  the vendor document's host (https://in.treasuredata.com and its regional peers, the
            local runtime's default): a key it does not accept is `403 {"error": "Forbidden"}`,
            and nothing is stored.
  v2        the Postback v2 host (https://{region}.records.in.treasuredata.com): a key it does not
            accept is still `200 {}`, and the record is dropped: it never reaches `received`, it
            is listed under `dropped` instead. TD documents no call that checks a key there.
Either way a bad database/table name or body is a 400, a body over 1,048,064 bytes a 413.

It also plays TD's Data Ingestion API, which the records.in host serves beside Postback v2:
`POST /{database}/{table}` with `{"events": [record, ...]}`, the key in `Authorization: TD1 <key>`
and `Content-Type: application/vnd.treasuredata.v1+json` (what TD's browser SDK sends). Its
limits: 1 to 500 records, 5 MB a call, 1,048,064 bytes a record (400 or 413 above); a key it does
not accept is `200 {}` with the records dropped, as on the v2 host (that host's rule, whatever
the mode). `records()` lists the records of both APIs in arrival order.

Control, beside base.py's:
  POST /_sandbox/mode   {"mode": "document" | "v2"}
  POST /_sandbox/keys   {"write_keys": ["new-key", ...]}: the keys accepted from now on, e.g. after
                        a rotation (the sandbox never echoes a key back)
  GET  /_sandbox/received  base.py's summary, plus "mode" and "dropped" (method, path, body of
                        each record a v2 host took with a wrong key, in arrival order)
  POST /_sandbox/reset  also restores the mode and keys the sandbox was created with
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any

from devserver.vendors.base import CONTROL_PREFIX, Reply, Request, VendorSandbox, _maybe_json

PATH = re.compile(r"/postback/v3/event/(?P<database>[^/]+)/(?P<table>[^/]+)")
INGEST_PATH = re.compile(r"/(?P<database>[^/]+)/(?P<table>[^/]+)")
INGEST_TYPE = "application/vnd.treasuredata.v1+json"
MAX_INGEST_EVENTS = 500
MAX_INGEST_BYTES = 5 * 1024 * 1024
NAME = re.compile(r"[A-Za-z0-9_]+")
MAX_BYTES = 1_048_064  # TD answers 413 above this
MODES = ("document", "v2")
# The one key accepted by default: the local runtime seeds it into TreasureDataSecret
# (devserver/aws_resources.py), so that `make run` delivers out of the box.
DEFAULT_WRITE_KEY = "sandbox-td-write-key"


class TdPostbackSandbox(VendorSandbox):
    name = "td-postback"

    def __init__(
        self,
        write_key: str | Iterable[str] = DEFAULT_WRITE_KEY,
        mode: str = "document",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._keys_lock = threading.Lock()
        self._default_keys = _keys([write_key] if isinstance(write_key, str) else write_key)
        self._default_mode = _mode(mode)
        self.write_keys = self._default_keys
        self.mode = self._default_mode
        self.dropped: list[Request] = []  # v2: taken with a wrong key, never stored

    # --- control ------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        mode = _mode(mode)
        with self._keys_lock:
            self.mode = mode

    def set_write_keys(self, keys: Iterable[str]) -> None:
        """Accept these keys only, from the next request on."""
        keys = _keys(keys)
        with self._keys_lock:
            self.write_keys = keys

    def reset_state(self) -> None:
        with self._keys_lock:
            self.write_keys = self._default_keys
            self.mode = self._default_mode
            self.dropped.clear()

    def summary(self) -> dict[str, Any]:
        summary = super().summary()
        with self._keys_lock:
            dropped = list(self.dropped)
        summary["mode"] = self.mode
        summary["dropped"] = [
            {"method": r.method, "path": r.path, "body": _maybe_json(r.body)} for r in dropped
        ]
        return summary

    def records(self, database: str, table: str) -> list[dict[str, object]]:
        """The records ingested into database.table by either API, in arrival order."""
        postback, ingest = f"/postback/v3/event/{database}/{table}", f"/{database}/{table}"
        records: list[dict[str, object]] = []
        for r in list(self.received):
            if r.path == postback:
                records.append(r.json())
            elif r.path == ingest:
                records.extend(r.json()["events"])
        return records

    def _control(self, request: Request) -> Reply:
        route = request.path[len(CONTROL_PREFIX) :]
        try:
            if route == "/mode" and request.method == "POST":
                self.set_mode(request.json()["mode"])
                return Reply(200, {"mode": self.mode})
            if route == "/keys" and request.method == "POST":
                self.set_write_keys(request.json()["write_keys"])
                return Reply(200, {"write_keys": len(self.write_keys)})
        except (ValueError, TypeError, KeyError) as exc:
            return Reply(400, {"error": str(exc)})
        return super()._control(request)

    # --- the vendor ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        ingest = INGEST_PATH.fullmatch(request.path)
        if request.method == "POST" and ingest:
            return self._ingest(request, ingest)
        match = PATH.fullmatch(request.path)
        if request.method != "POST" or not match:
            return Reply(404, {"error": "Not Found"})
        key = request.header("X-TD-Write-Key") or next(
            iter(request.query.get("td_write_key", [])), None
        )
        with self._keys_lock:
            accepted, mode = key in self.write_keys, self.mode
        if not accepted and mode == "document":
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
        if not accepted:
            with self._keys_lock:
                self.dropped.append(request)
            return Reply(200, {}, stored=False)
        return Reply(200, {})

    def _ingest(self, request: Request, match: re.Match[str]) -> Reply:
        authorization = request.header("Authorization") or ""
        key = authorization[4:] if authorization.startswith("TD1 ") else None
        with self._keys_lock:
            accepted = key in self.write_keys
        if not (NAME.fullmatch(match["database"]) and NAME.fullmatch(match["table"])):
            return Reply(400, {"error": "Bad Request", "message": "invalid database or table name"})
        if (request.header("Content-Type") or "").split(";")[0].strip() != INGEST_TYPE:
            return Reply(415, {"error": "Unsupported Media Type"})
        if len(request.body) > MAX_INGEST_BYTES:
            return Reply(413, {"error": "Request Entity Too Large"})
        try:
            events = request.json()["events"]
        except (ValueError, TypeError, KeyError):
            return Reply(400, {"error": "Bad Request", "message": 'body must be {"events": [...]}'})
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_INGEST_EVENTS:
            return Reply(400, {"error": "Bad Request", "message": "1 to 500 events a request"})
        for event in events:
            if not isinstance(event, dict):
                return Reply(400, {"error": "Bad Request", "message": "an event is not an object"})
            if len(json.dumps(event, separators=(",", ":")).encode()) > MAX_BYTES:
                return Reply(413, {"error": "Request Entity Too Large"})
        if not accepted:
            with self._keys_lock:
                self.dropped.append(request)
            return Reply(200, {}, stored=False)
        return Reply(200, {})


def _mode(mode: Any) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    return str(mode)


def _keys(keys: Iterable[str]) -> frozenset[str]:
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise TypeError("write_keys must be a list of strings")
    found = frozenset(keys)
    if not found or not all(isinstance(k, str) and k for k in found):
        raise ValueError("write_keys must name at least one non-empty key")
    return found
