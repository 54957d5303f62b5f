"""Where the layer's AWS clients come from: boto3's one default session, one client at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Every client (Secrets Manager, SQS, DynamoDB) comes from boto3's default session, Powertools'
# too (passed in as boto3_client): a client after the first reuses the endpoint and partition
# data the session already loaded instead of parsing them again (~50 ms of a cold start).
# A boto3 session is not thread-safe and the retry function replays items in threads, so
# clients are created one at a time.
_lock = threading.Lock()


@contextmanager
def creating_client() -> Iterator[None]:
    with _lock:
        yield
