"""Treasure Data Real-time Personalization API client: POST {base}/{database}/{table} with an
event; TD ingests it and may answer with the personalization for it."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import field_validator

from gateway.core.envelope import Kind, WriteRequest
from gateway.core.errors import ConfigurationError, UpstreamError, UpstreamUnavailable
from gateway.core.json_body import parse_json_object
from gateway.core.outcome import Outcome, Queued, VendorResponse
from gateway.delivery import policy
from gateway.vendors.td.names import P13N_NAME, check_destination_names, check_name
from gateway.vendors.td.personalization_errors import VENDOR, raise_for_p13n_status

if TYPE_CHECKING:
    from gateway.context import Context
    from gateway.core.settings import Settings

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
    vendor: ClassVar[str] = VENDOR

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

    @classmethod
    def accepted(
        cls, context: Context, database: str, table: str, body: bytes
    ) -> PersonalizationRequest:
        """The caller's event as the gateway accepts it: names checked, the destination
        allowed, the body within the JSON limit, `time` and `uuid` filled in."""
        check_destination_names(
            database,
            table,
            patterns=context.settings.personalization_destinations,
            setting="PERSONALIZATION_DESTINATIONS",
            name=P13N_NAME,
        )
        return cls.model_validate({"database": database, "table": table, "event": body})

    def send(self, context: Context, *, fresh_credentials: bool = False) -> VendorResponse:
        """One call to TD (also what RetryFunction replays)."""
        url = f"{base_url(context.settings)}/{self.database}/{self.table}"
        secret = context.secrets.treasure_data(fresh=fresh_credentials)
        if secret.api_key is None or secret.wp13n_token is None:
            raise ConfigurationError(
                "TD_SECRET_ID lacks api_key or wp13n_token (needed for personalization)",
                code="SECRET_INVALID",
            )
        response = context.http.send(
            "POST",
            url,
            vendor=VENDOR,
            headers={
                "Content-Type": CONTENT_TYPE,
                "WP13n-Token": secret.wp13n_token.get_secret_value(),
                "Authorization": f"TD1 {secret.api_key.get_secret_value()}",
            },
            data=json.dumps(self.event, separators=(",", ":"), ensure_ascii=False).encode(),
        )
        raise_for_p13n_status(response)
        return VendorResponse.of(response)


def base_url(settings: Settings) -> str:
    if settings.td_p13n_endpoint is None and settings.td_region not in REGIONS:
        raise ConfigurationError(
            f"TD has no personalization host for TD_REGION={settings.td_region}; "
            "set TD_P13N_ENDPOINT",
            code="P13N_REGION_UNSUPPORTED",
        )
    return settings.td_p13n_base


def personalize(context: Context, request: PersonalizationRequest) -> Outcome:
    """TD's answer (200 with the personalization, or 204), or `Queued` when TD failed twice
    (the in-line retry) and the event is on RetryQueue for re-ingestion."""
    return policy.submit(context, request, inline_retry_delay=INLINE_RETRY_DELAY_SECONDS)


def answer(context: Context, outcome: Outcome) -> VendorResponse:
    """TD's answer passed through. For an event queued after the in-line retry: by default a
    204 with `Gateway-Status: queued; retryId=...`, so that the page renders its defaults and a
    client that retries 503s sends no duplicate; PERSONALIZATION_ON_FAILURE=error makes it a
    503 that says the event is queued."""
    if not isinstance(outcome, Queued):
        return outcome
    if context.settings.personalization_on_failure == "error":
        raise unavailable(outcome)
    return VendorResponse(
        status=204, body="", headers={"Gateway-Status": f"queued; retryId={outcome.retry_id}"}
    )


def unavailable(queued: Queued) -> UpstreamUnavailable:
    """The 503 for a queued event when PERSONALIZATION_ON_FAILURE=error."""
    error = queued.error
    code = error.code if error is not None else UpstreamUnavailable.code
    reason = error.detail if error is not None else "Treasure Data failed"
    return UpstreamUnavailable(
        f"{reason}; no personalization this time. The event is queued for re-ingestion "
        f"(retryId {queued.retry_id}): do not resend it, look up again later",
        vendor=VENDOR,
        upstream_status=error.upstream_status if isinstance(error, UpstreamError) else None,
        code=code,
        headers={"Retry-After": QUEUED_RETRY_AFTER},
        errors=[{"detail": "event queued for re-ingestion", "retryId": queued.retry_id}],
    )
