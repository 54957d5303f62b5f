"""Treasure Data Real-time Personalization API client: POST {base}/{database}/{table} with an
event; TD ingests it and may answer with the personalization for it."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, ClassVar

from pydantic import field_validator

from gateway import http_session, secrets, writes
from gateway.envelope import Kind, WriteRequest
from gateway.errors import ConfigurationError, UpstreamError, UpstreamThrottled, UpstreamUnavailable
from gateway.json_body import parse_json_object
from gateway.observability import logger
from gateway.settings import get_settings
from gateway.td_names import P13N_NAME, check_name
from gateway.td_personalization_errors import VENDOR, raise_for_p13n_status
from gateway.vendor_response import Queued, VendorResponse

CONTENT_TYPE = "application/vnd.treasuredata.v1+json"
# The regions TD's document gives a personalization host for (TD_REGION also allows ap02).
REGIONS = ("us01", "eu01", "ap01")
# Not in TD's document: the TD ingestion limit, which also keeps the envelope within SQS's.
MAX_EVENT_BYTES = 1_048_064
# Short: the caller is waiting for the personalization, and the event is queued anyway.
INLINE_RETRY_DELAY_SECONDS = 0.1
# Seconds the caller is asked to wait before looking up again after a queued 503.
QUEUED_RETRY_AFTER = "2"


class PersonalizationRequest(WriteRequest):
    kind: ClassVar[Kind] = "td.personalization"

    database: str
    table: str
    event: dict[str, Any]

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return check_name(value, what="database", pattern=P13N_NAME, rule=P13N_NAME.pattern)

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        return check_name(value, what="table", pattern=P13N_NAME, rule=P13N_NAME.pattern)

    @field_validator("event", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        # The raw HTTP body is parsed here, after the path's names (fields validate in order).
        if isinstance(value, bytes):
            return parse_json_object(value, max_bytes=MAX_EVENT_BYTES)
        return value

    @field_validator("event")
    @classmethod
    def _identity(cls, value: dict[str, Any]) -> dict[str, Any]:
        # TD requires both; filled once here, so the queued copy re-ingests the same event.
        event = dict(value)
        if event.get("time") is None:
            event["time"] = int(time.time())
        if event.get("uuid") is None:
            event["uuid"] = str(uuid.uuid4())
        return event


def base_url() -> str:
    settings = get_settings()
    if settings.td_p13n_endpoint is None and settings.td_region not in REGIONS:
        raise ConfigurationError(
            f"TD has no personalization host for TD_REGION={settings.td_region}; "
            "set TD_P13N_ENDPOINT",
            code="P13N_REGION_UNSUPPORTED",
        )
    return settings.td_p13n_base


def send(request: PersonalizationRequest) -> VendorResponse:
    """One call to TD (also what RetryFunction replays)."""
    url = f"{base_url()}/{request.database}/{request.table}"
    secret = secrets.treasure_data()
    if secret.api_key is None or secret.wp13n_token is None:
        raise ConfigurationError(
            "TD_SECRET_ID lacks api_key or wp13n_token (needed for personalization)",
            code="SECRET_INVALID",
        )
    response = http_session.send(
        "POST",
        url,
        vendor=VENDOR,
        headers={
            "Content-Type": CONTENT_TYPE,
            "WP13n-Token": secret.wp13n_token.get_secret_value(),
            "Authorization": f"TD1 {secret.api_key.get_secret_value()}",
        },
        data=json.dumps(request.event, separators=(",", ":"), ensure_ascii=False).encode(),
    )
    raise_for_p13n_status(response)
    return VendorResponse.of(response)


def _send_with_inline_retry(request: PersonalizationRequest) -> VendorResponse:
    try:
        return send(request)
    except UpstreamError as exc:
        if not exc.retryable or isinstance(exc, UpstreamThrottled):
            raise
        logger.info(
            "personalization failed; retrying once in line",
            extra={"code": exc.code, "upstream_status": exc.upstream_status},
        )
    time.sleep(INLINE_RETRY_DELAY_SECONDS)
    return send(request)


def personalize(request: PersonalizationRequest) -> VendorResponse:
    """TD's answer (200 with the personalization, or 204). When TD fails twice the event is
    queued for re-ingestion and the caller gets a 503 that says so; when it cannot be queued
    either, the 503 is `RETRY_QUEUE_UNAVAILABLE`."""
    answer = writes.submit(request, send=_send_with_inline_retry)
    if isinstance(answer, Queued):
        raise _queued(answer)
    return answer


def _queued(answer: Queued) -> UpstreamUnavailable:
    error = answer.error
    code = error.code if error is not None else UpstreamUnavailable.code
    reason = error.detail if error is not None else "Treasure Data failed"
    return UpstreamUnavailable(
        f"{reason}; no personalization this time. The event is queued for re-ingestion "
        f"(retryId {answer.retry_id}): do not resend it, look up again later",
        vendor=VENDOR,
        upstream_status=error.upstream_status if isinstance(error, UpstreamError) else None,
        code=code,
        headers={"Retry-After": QUEUED_RETRY_AFTER},
        errors=[{"detail": "event queued for re-ingestion", "retryId": answer.retry_id}],
    )
