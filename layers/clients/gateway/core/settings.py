"""Function configuration: one validated model, read from the environment once per process."""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TdRegion = Literal["us01", "eu01", "ap01", "ap02"]
# The Postback API's host per region, as TD's document and its own browser SDK name them: a
# wrong write key is a 403 there (docs/treasure-data.md).
TD_POSTBACK_HOSTS: dict[str, str] = {
    "us01": "https://in.treasuredata.com",
    "ap01": "https://tokyo.in.treasuredata.com",
    "eu01": "https://eu01.in.treasuredata.com",
    "ap02": "https://ap02.in.treasuredata.com",
}
DESTINATION_PATTERN = re.compile(r"[A-Za-z0-9_*]+\.[A-Za-z0-9_*]+")
TD_POSTBACK_V2_HOST = re.compile(r"https://[a-z0-9-]+\.records\.in\.treasuredata\.com")
RrEnvironment = Literal["gateway", "staging-gateway", "qa-gateway"]


class Settings(BaseModel):
    """Every knob of the configuration (docs/configuration.md); endpoints come only from here.
    A field not passed in is read from the environment variable of its name (any case). Read
    once per execution environment, by the handler's `Context`."""

    # A plain model over os.environ, not pydantic-settings: the same validation without the
    # settings sources (dotenv, CLI, cloud providers) that cost a cold start ~20 ms to import.
    model_config = ConfigDict(frozen=True, extra="ignore")

    td_region: TdRegion = "us01"
    td_postback_endpoint: str | None = None
    # Whether TD_POSTBACK_ENDPOINT is the Postback v2 host (None: told by its host name); for an
    # endpoint in front of TD (a proxy, a sandbox) whose name does not say.
    td_postback_v2: bool | None = None
    td_p13n_endpoint: str | None = None
    # How the TD JS SDK route delivers a request's events (docs/td-js-sdk.md): one Postback
    # call each (the default), or one call of TD's Data Ingestion API for the whole request.
    td_js_sdk_api: Literal["postback", "ingest"] = "postback"
    td_ingest_endpoint: str | None = None
    rokt_endpoint: str = "https://server-api.rokt.com"
    rr_environment: RrEnvironment = "gateway"
    rr_profile_command_endpoint: str | None = None
    rr_content_update_endpoint: str | None = None
    # Content items per Content Update API call: larger arrays go out in chunks of this size.
    rr_content_chunk_size: int = Field(default=100, ge=1, le=1000)

    td_secret_id: str | None = None
    rokt_secret_id: str | None = None
    rr_secret_id: str | None = None
    secrets_max_age_seconds: int = Field(default=300, ge=0, le=86_400)

    retry_queue_url: str | None = None
    dead_letter_queue_url: str | None = None
    # Mirrors the template's RetryQueue redrive maxReceiveCount: on the last receive the
    # retry function parks the envelope itself, with the reason, instead of letting SQS do it blind.
    retry_max_receives: int = Field(default=12, ge=1, le=1000)
    retry_backoff_base_seconds: float = Field(default=30, ge=0, le=3600)
    retry_backoff_max_seconds: float = Field(default=3600, ge=0, le=43_200)

    # The IdempotencyTable (DynamoDB): unset, writes are not deduplicated (at least once only).
    idempotency_table: str | None = None
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60, le=7 * 86_400)

    # Who may reach what (docs/security.md): comma-separated `database.table` patterns with
    # `*`; empty allows nothing. Browser origins allowed on every route (a request without
    # Origin, a server, is not refused for that).
    postback_destinations: str = ""
    personalization_destinations: str = ""
    allowed_origins: str = ""

    # After the in-line retry, a personalization lookup answers 204 with Gateway-Status
    # (degrade: the page renders its defaults) or 503 (error); the event is queued either way.
    personalization_on_failure: Literal["degrade", "error"] = "degrade"

    # Last-accepted-write ordering and the per-vendor circuit (DynamoDB; unset: neither).
    delivery_state_table: str | None = None
    circuit_failures: int = Field(default=5, ge=1, le=1000)
    circuit_open_seconds: float = Field(default=30, ge=1, le=3600)

    upstream_connect_timeout_seconds: float = Field(default=1.0, gt=0, le=10)
    upstream_timeout_seconds: float = Field(default=4.0, gt=0, le=25)

    # Rokt asks for one retry after 1-2 s on a 5xx; a setting so that tests observe the wait.
    rokt_retry_delay_seconds: float = Field(default=1.0, ge=0, le=2)
    experience_cache_table: str | None = None
    rokt_cache_ttl_seconds: int = Field(default=600, ge=0, le=86_400)  # 0: no caching
    # After a cache (DynamoDB) failure, fetches skip the cache this long instead of paying
    # its timeouts on every request.
    rokt_cache_backoff_seconds: float = Field(default=30, ge=0, le=3600)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        environ = {name.lower(): value for name, value in os.environ.items()}
        return {name: environ[name] for name in cls.model_fields if name in environ} | data

    @field_validator(
        "td_postback_endpoint",
        "td_p13n_endpoint",
        "td_ingest_endpoint",
        "rr_profile_command_endpoint",
        "rr_content_update_endpoint",
        "td_secret_id",
        "rokt_secret_id",
        "rr_secret_id",
        "experience_cache_table",
        "retry_queue_url",
        "dead_letter_queue_url",
        "idempotency_table",
        "delivery_state_table",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # SAM and .env files pass "" for "not set"; treat it as the default.
        return None if value == "" else value

    @field_validator(
        "td_postback_endpoint",
        "td_p13n_endpoint",
        "td_ingest_endpoint",
        "rokt_endpoint",
        "rr_profile_command_endpoint",
        "rr_content_update_endpoint",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("endpoint must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("postback_destinations", "personalization_destinations")
    @classmethod
    def _destination_patterns(cls, value: str) -> str:
        for pattern in split_list(value):
            if not DESTINATION_PATTERN.fullmatch(pattern):
                raise ValueError(
                    f"{pattern!r} is not a database.table pattern (letters, digits, _ and *)"
                )
        return value

    @model_validator(mode="after")
    def _backoff_bounds(self) -> Settings:
        if self.retry_backoff_base_seconds > self.retry_backoff_max_seconds:
            raise ValueError("RETRY_BACKOFF_BASE_SECONDS must not exceed RETRY_BACKOFF_MAX_SECONDS")
        return self

    @property
    def td_postback_base(self) -> str:
        return self.td_postback_endpoint or TD_POSTBACK_HOSTS[self.td_region]

    @property
    def td_postback_is_v2(self) -> bool:
        """The Postback v2 host answers 200 to a wrong write key (and drops the record)."""
        if self.td_postback_v2 is not None:
            return self.td_postback_v2
        return TD_POSTBACK_V2_HOST.fullmatch(self.td_postback_base) is not None

    @property
    def td_ingest_base(self) -> str:
        """TD's Data Ingestion API: the region's records.in host, as TD's browser SDK names it."""
        return self.td_ingest_endpoint or f"https://{self.td_region}.records.in.treasuredata.com"

    @property
    def td_p13n_base(self) -> str:
        return self.td_p13n_endpoint or f"https://{self.td_region}.p13n.in.treasuredata.com"

    @property
    def rr_profile_command_base(self) -> str:
        return self.rr_profile_command_endpoint or (
            f"https://{self.rr_environment}.richrelevance.com/profile-command/v1"
        )

    @property
    def rr_content_update_base(self) -> str:
        return self.rr_content_update_endpoint or (
            f"https://{self.rr_environment}.richrelevance.com/contentupdate/v1"
        )


def split_list(value: str) -> list[str]:
    """A comma-separated setting as its items (blanks dropped)."""
    return [item.strip() for item in value.split(",") if item.strip()]
