"""Comparing what a vendor sandbox received with what a caller sent."""

from __future__ import annotations

import time
from typing import Any


def untimed(records: list[dict[str, Any]], *, within_seconds: float = 3600) -> list[dict[str, Any]]:
    """The records without the `time` the gateway stamped on them at acceptance, for comparing
    with what the caller sent. Each record must have a `time`: its own (left as it is) or the
    gateway's stamp (an epoch second of the last hour, removed)."""
    now = time.time()

    def stamped(value: object) -> bool:
        return isinstance(value, int) and now - within_seconds <= value <= now + 1

    for record in records:
        assert "time" in record, f"record without a time: {record}"
    return [{k: v for k, v in r.items() if not (k == "time" and stamped(v))} for r in records]
