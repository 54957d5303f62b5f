"""The drain's floor, run in the same worker processes as RetryFunction: the same AWS calls and
vendor request per envelope with plain boto3 and `requests`, a batch's records concurrently.
Per record a conditional PutItem claiming the envelope's id (the idempotency record), then its
vendor request; per batch one BatchWriteItem of the delivered records (the retry function's
group commit at its best: the whole batch finishing together). No envelope model, no policy,
no logging: what any consumer of the queue that delivers exactly once must at least do."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.exceptions
import requests

_session = requests.Session()
_session.trust_env = False  # as the gateway's: no walk of os.environ on every request
_executor = ThreadPoolExecutor(max_workers=10)
_URL = os.environ["FLOOR_URL"]
_HEADERS = json.loads(os.environ["FLOOR_HEADERS"])
_TABLE = os.environ["IDEMPOTENCY_TABLE"]
_dynamodb = boto3.client("dynamodb")


def _item(envelope_id: str, status: str) -> dict[str, Any]:
    expiry = str(int(time.time()) + 86_400)
    return {
        "id": {"S": f"floor#{envelope_id}"},
        "status": {"S": status},
        "expiration": {"N": expiry},
    }


def _send(record: dict[str, Any]) -> str | None:
    """The envelope's id once delivered, else None."""
    envelope = json.loads(record["body"])
    try:
        _dynamodb.put_item(
            TableName=_TABLE,
            Item=_item(envelope["id"], "INPROGRESS"),
            ConditionExpression="attribute_not_exists(id)",
        )
        response = _session.post(
            _URL, data=json.dumps(envelope["request"]["record"]), headers=_HEADERS,
            timeout=(3.05, 10),
        )  # fmt: skip
    except (requests.RequestException, botocore.exceptions.ClientError):
        return None
    return str(envelope["id"]) if response.ok else None


def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    records = event["Records"]
    sent = list(_executor.map(_send, records))
    delivered = [_item(i, "COMPLETED") for i in sent if i is not None]
    if delivered:
        _dynamodb.batch_write_item(
            RequestItems={_TABLE: [{"PutRequest": {"Item": item}} for item in delivered]}
        )
    failed = [r["messageId"] for r, ok in zip(records, sent, strict=True) if ok is None]
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
