"""Rokt experiences cached in DynamoDB (ExperienceCacheTable), shared by every Lambda instance.

Items expire through DynamoDB TTL on `expiresAt` (epoch seconds). TTL deletion is lazy (it can
lag by hours), so a read also treats an item past its `expiresAt` as absent. The cache only ever
speeds a fetch up: when DynamoDB fails, the fetch goes on without it and the cache is skipped
for ROKT_CACHE_BACKOFF_SECONDS, instead of paying its timeouts on every request."""

from __future__ import annotations

import json
import time
import zlib
from functools import cached_property
from typing import TYPE_CHECKING

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.core.observability import logger, metrics
from gateway.core.outcome import VendorResponse

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from gateway.context import Context

# DynamoDB's item limit is 400 KB; bodies are stored compressed, bigger ones are not cached.
MAX_STORED_BYTES = 350_000


class ExperienceCache:
    def __init__(self, context: Context) -> None:
        self._context = context
        self._skip_until = 0.0  # time.monotonic() before which the cache is not tried

    @cached_property
    def _dynamodb(self) -> DynamoDBClient:
        # A cache lookup must cost little even when DynamoDB is slow: short timeouts, one retry.
        config = Config(
            connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 2, "mode": "standard"}
        )
        client: DynamoDBClient = self._context.client(
            "dynamodb", name="experience-cache", config=config
        )
        return client

    def _table(self) -> str | None:
        settings = self._context.settings
        if not settings.experience_cache_table or settings.rokt_cache_ttl_seconds == 0:
            return None
        if time.monotonic() < self._skip_until:
            return None
        return settings.experience_cache_table

    def _failed(self, operation: str, exc: Exception) -> None:
        self._skip_until = time.monotonic() + self._context.settings.rokt_cache_backoff_seconds
        metrics.add_metric(name="CacheErrors", unit="Count", value=1)
        logger.warning(
            "experience cache unavailable; fetching without it",
            extra={"operation": operation, "error_type": type(exc).__name__},
        )

    def get(self, key: str) -> VendorResponse | None:
        table = self._table()
        if table is None:
            return None
        try:
            item = self._dynamodb.get_item(
                TableName=table, Key={"cacheKey": {"S": key}}, ConsistentRead=True
            ).get("Item")
        except (BotoCoreError, ClientError) as exc:
            self._failed("get", exc)
            return None
        if item is None:
            return None
        try:
            if int(item["expiresAt"]["N"]) <= time.time():
                return None  # expired, not yet deleted by TTL
            return VendorResponse(
                status=int(item["status"]["N"]),
                body=zlib.decompress(item["body"]["B"]).decode(),
                content_type=item["contentType"]["S"],
                headers=json.loads(item["headers"]["S"]),
            )
        except (KeyError, ValueError, zlib.error):  # not an entry this code wrote: a miss
            logger.warning("unreadable experience cache entry; fetching anew")
            return None

    def put(self, key: str, answer: VendorResponse) -> None:
        table = self._table()
        if table is None:
            return
        body = zlib.compress(answer.body.encode())
        if len(body) > MAX_STORED_BYTES:
            logger.info("experience too large to cache", extra={"bytes": len(body)})
            return
        expires_at = int(time.time()) + self._context.settings.rokt_cache_ttl_seconds
        try:
            self._dynamodb.put_item(
                TableName=table,
                Item={
                    "cacheKey": {"S": key},
                    "expiresAt": {"N": str(expires_at)},
                    "status": {"N": str(answer.status)},
                    "contentType": {"S": answer.content_type or "application/json"},
                    "headers": {"S": json.dumps(answer.headers)},
                    "body": {"B": body},
                },
            )
        except (BotoCoreError, ClientError) as exc:
            self._failed("put", exc)
