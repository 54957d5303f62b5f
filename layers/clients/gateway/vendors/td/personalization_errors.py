"""The Real-time Personalization API's error codes (vendor document) mapped onto the gateway's
errors: every code becomes a problem with the stable code `TD_<n>`."""

from __future__ import annotations

from typing import Any

import requests

from gateway.core.errors import (
    UpstreamAuth,
    UpstreamRejected,
    UpstreamThrottled,
    UpstreamUnavailable,
    is_retryable_status,
)
from gateway.vendors.http_session import raise_for_vendor_status

VENDOR = "treasure-data"

# The vendor document's codes, in English. 3000-3003 concern the gateway's own WP13n-Token.
TOKEN_CODES: dict[int, str] = {
    3000: "no RT token was sent",
    3001: "the RT token is not in TD's configuration",
    3002: "the RT token's account conflicts with the API key's account",
    3003: "the RT token is malformed",
}
EVENT_CODES: dict[int, str] = {3004: "the event object is invalid"}
THROTTLE_CODES: dict[int, str] = {
    2003: "Kinesis limit exceeded",
    2013: "Lambda concurrency above its reservation",
}
SERVER_CODES: dict[int, str] = {
    9999: "unknown or undiagnosed error",
    1001: "TD API unreachable or timed out",
    1002: "table API unreachable or timed out",
    1003: "Kinesis unreachable or timed out",
    1004: "Lambda unreachable or timed out",
    1005: "MemoryDB unreachable or timed out",
    2001: "Kinesis stream not found",
    2002: "Kinesis operation failed",
    2011: "Lambda function not found",
    2012: "Lambda function failed or its response was not processed",
    2014: "Lambda invocation failed",
    2015: "Lambda reactor configuration has no token yet",
    2021: "MemoryDB operation failed",
    3010: "RT token configured with an inconsistent reactor (account or reactor id)",
}
MESSAGES = {**TOKEN_CODES, **EVENT_CODES, **THROTTLE_CODES, **SERVER_CODES}


def vendor_code(response: requests.Response) -> int | None:
    """TD's numeric error code. The document names the codes but not the body's shape, so the
    code is looked for at the top level, under `error`, and in the first of `errors`."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    candidates: list[Any] = []
    if isinstance(body, dict):
        candidates.append(body.get("code"))
        if isinstance(body.get("error"), dict):
            candidates.append(body["error"].get("code"))
        if isinstance(body.get("errors"), list) and body["errors"]:
            first = body["errors"][0]
            candidates.append(first.get("code") if isinstance(first, dict) else None)
    for candidate in candidates:
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return candidate
        if isinstance(candidate, str) and candidate.isdigit():
            return int(candidate)
    return None


def raise_for_p13n_status(response: requests.Response) -> None:
    status = response.status_code
    if status < 300:
        return
    code = vendor_code(response)
    if code is None:
        raise_for_vendor_status(response, vendor=VENDOR)
        return
    name = f"TD_{code}"
    what = MESSAGES.get(code, "a code TD's document does not describe")
    kwargs: dict[str, Any] = {"vendor": VENDOR, "upstream_status": status, "code": name}
    if status == 429 or code in THROTTLE_CODES:
        raise UpstreamThrottled(
            f"Treasure Data is throttling personalization ({name}: {what}); retry later",
            retry_after=response.headers.get("Retry-After", "1"),
            **kwargs,
        )
    if status in (401, 403) or code in TOKEN_CODES:
        raise UpstreamAuth(
            f"Treasure Data refused the gateway's personalization credentials ({name}: {what}); "
            "this is the gateway's configuration (TD_SECRET_ID), not the request",
            **kwargs,
        )
    if is_retryable_status(status):
        raise UpstreamUnavailable(f"Treasure Data failed ({name}: {what})", **kwargs)
    raise UpstreamRejected(f"Treasure Data rejected the event ({name}: {what})", **kwargs)
