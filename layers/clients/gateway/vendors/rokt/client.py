"""Rokt V2 Partner Experiences API client: POST {ROKT_ENDPOINT}/v2/partner/experiences, with the
vendor's advice applied: one retry after a short delay on 5xx, and experiences cached per
transaction, user and device type."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

import requests

from gateway.core.errors import UpstreamAuth, UpstreamRejected, UpstreamUnavailable
from gateway.core.observability import logger
from gateway.core.outcome import VendorResponse
from gateway.vendors.http_session import raise_for_vendor_status
from gateway.vendors.rokt.request import ExperienceRequest

if TYPE_CHECKING:
    from gateway.context import Context

VENDOR = "rokt"
KEPT_HEADERS = ("rokt-session-id", "rokt-account-id")
CACHE_HEADER = "x-gateway-cache"
# Time kept free at the end of the function's deadline to shape the answer, and the shortest
# read worth a retry.
DEADLINE_MARGIN_SECONDS = 0.5
MIN_READ_SECONDS = 0.5
# A correlation id travels to Rokt as a header: only a plain token is sent.
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:=+/-]{1,128}")


class Deadline(Protocol):
    """The Lambda context's clock."""

    def get_remaining_time_in_millis(self) -> int: ...


def fetch_experience(context: Context, request: ExperienceRequest) -> VendorResponse:
    """The experience for the request: from the cache when the caller's `cacheKey` was seen
    within the TTL, else from Rokt (cached afterwards when it holds offers). A read: Rokt's
    own advice, one retry after a short delay on a 5xx, within the invocation's deadline."""
    key = request.cache_id()
    cache = context.experience_cache
    if key is not None and (cached := cache.get(key)) is not None:
        # Debug: a hit is the common warm path, and the answer's header already says it.
        logger.debug("experience served from cache")
        return _with_header(cached, CACHE_HEADER, "hit")
    answer = _post_with_retry(context, request.rokt_body())
    if key is None:
        return answer
    # An empty experience is not kept: a later fetch with more attributes may well get offers.
    if _has_offers(answer):
        cache.put(key, answer)
    return _with_header(answer, CACHE_HEADER, "miss")


def _post_with_retry(context: Context, body: dict[str, Any]) -> VendorResponse:
    settings = context.settings
    deadline: Deadline = context.lambda_context
    try:
        return _post(context, body)
    except UpstreamUnavailable as first:
        delay = settings.rokt_retry_delay_seconds
        connect = settings.upstream_connect_timeout_seconds
        left = deadline.get_remaining_time_in_millis() / 1000
        read_budget = left - delay - DEADLINE_MARGIN_SECONDS - connect
        if read_budget < MIN_READ_SECONDS:
            logger.warning("no time left to retry Rokt", extra={"status": first.upstream_status})
            raise
        logger.warning("Rokt failed; retrying once", extra={"status": first.upstream_status})
        time.sleep(delay)
        read_timeout = min(settings.upstream_timeout_seconds, read_budget)
        return _post(context, body, timeout=(connect, read_timeout))


def _post(context: Context, body: dict[str, Any], **kwargs: Any) -> VendorResponse:
    secret = context.secrets.rokt()
    response = context.http.send(
        "POST",
        f"{context.settings.rokt_endpoint}/v2/partner/experiences",
        vendor=VENDOR,
        headers={
            "content-type": "application/json",
            "accept": "application/json",
            "rokt-pub-id": secret.public_id.get_secret_value(),
            "rokt-secret": secret.secret.get_secret_value(),
            "rokt-tag-id": secret.tag_id.get_secret_value(),
            "rokt-client-unique-id": _client_unique_id(),
        },
        data=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        **kwargs,
    )
    if response.status_code in (400, 422):
        _raise_rejected(response)
    raise_for_vendor_status(response, vendor=VENDOR)
    return VendorResponse.of(response, keep_headers=KEPT_HEADERS)


def _raise_rejected(response: requests.Response) -> None:
    """Rokt's 400/422 carry its errors: passed on with code and message (never `value`, which
    may echo a header of ours)."""
    errors = [
        {"code": str(e.get("code")), "message": str(e.get("message"))}
        for e in _json(response).get("errors") or []
        if isinstance(e, dict)
    ]
    status = response.status_code
    if any(e["code"] == "PartnerIdNotProvided" for e in errors):
        # The tag id comes from our secret: the gateway's configuration is wrong, not the caller.
        raise UpstreamAuth(
            "Rokt refused the gateway's rokt-tag-id", vendor=VENDOR, upstream_status=status
        )
    raise UpstreamRejected(
        f"Rokt answered HTTP {status}",
        vendor=VENDOR,
        upstream_status=status,
        code="ROKT_VALIDATION" if status == 422 else "UPSTREAM_REJECTED",
        errors=errors,
    )


def _client_unique_id() -> str:
    """Our correlation id, so that one request can be followed across both systems."""
    correlation_id = logger.get_correlation_id()
    if not (isinstance(correlation_id, str) and CORRELATION_ID.fullmatch(correlation_id)):
        correlation_id = str(uuid.uuid4())
        logger.set_correlation_id(correlation_id)
    return correlation_id


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _has_offers(answer: VendorResponse) -> bool:
    try:
        plugins = json.loads(answer.body).get("plugins")
    except (ValueError, AttributeError):
        return False
    return bool(plugins)


def _with_header(answer: VendorResponse, name: str, value: str) -> VendorResponse:
    return dataclasses.replace(answer, headers={**answer.headers, name: value})
