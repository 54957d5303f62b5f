"""The drain's floor, run in the same worker processes as RetryFunction: each record's vendor
request sent with a pooled `requests` session, a batch's records concurrently. No envelope
model, no idempotency, no logging: what any consumer of the queue must at least do."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

_session = requests.Session()
_session.trust_env = False  # as the gateway's: no walk of os.environ on every request
_executor = ThreadPoolExecutor(max_workers=10)
_URL = os.environ["FLOOR_URL"]
_HEADERS = json.loads(os.environ["FLOOR_HEADERS"])


def _send(record: dict[str, Any]) -> bool:
    request = json.loads(record["body"])["request"]
    try:
        response = _session.post(
            _URL, data=json.dumps(request["record"]), headers=_HEADERS, timeout=(3.05, 10)
        )
    except requests.RequestException:
        return False
    return response.ok


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    records = event["Records"]
    sent = list(_executor.map(_send, records))
    failed = [r["messageId"] for r, ok in zip(records, sent, strict=True) if not ok]
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
