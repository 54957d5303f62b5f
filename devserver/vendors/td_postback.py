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
        """The records ingested into database.table, in arrival order."""
        prefix = f"/postback/v3/event/{database}/{table}"
        return [r.json() for r in list(self.received) if r.path == prefix]

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
