"""The Rokt V2 Partner Experiences request (vendor document's body), validated before any call
to Rokt, with Rokt's own error codes; plus the gateway's optional `cacheKey`."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from gateway.core.errors import InvalidRequest, UnprocessableRequest
from gateway.core.json_body import parse_json_object

MAX_BODY_BYTES = 256 * 1024

Text = Annotated[str, Field(min_length=1)]
KeyPart = Annotated[str, Field(min_length=1, max_length=256)]
Platform = Literal["Web", "Mobile", "iOS", "Android"]
SessionId = Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,128}$")]


class Integration(BaseModel):
    # Unknown fields are kept and forwarded: Rokt, not the gateway, decides what else it takes.
    model_config = ConfigDict(extra="allow")

    name: Text
    version: Text
    framework: Text
    # An enum at Rokt; its document names these values. Checked here so that a request Rokt
    # would refuse is never sent (IntegrationPlatformInvalid, as Rokt answers).
    platform: Platform
    layoutSchemaVersion: Text  # noqa: N815
    deviceLocale: Text  # noqa: N815
    deviceModel: Text  # noqa: N815
    deviceType: Text  # noqa: N815
    operatingSystem: Text  # noqa: N815
    operatingSystemVersion: Text  # noqa: N815
    packageName: Text  # noqa: N815
    packageVersion: Text  # noqa: N815
    metadata: dict[str, str] | None = None


class CacheKey(BaseModel):
    """The gateway's field: cache the experience for this transaction and user (Rokt's advice);
    the device type comes from `integration.deviceType`."""

    model_config = ConfigDict(extra="forbid")

    transactionId: KeyPart  # noqa: N815
    userId: KeyPart  # noqa: N815


class ExperienceRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    # Rokt's own session id (a UUID), which Rokt echoes in its rokt-session-id header: it must
    # be header-safe text, or Rokt could not answer.
    sessionId: SessionId | None = None  # noqa: N815
    pageIdentifier: Text  # noqa: N815
    attributes: dict[str, str]
    integration: Integration
    cacheKey: CacheKey | None = None  # noqa: N815

    @model_validator(mode="before")
    @classmethod
    def _integration(cls, data: object) -> object:
        # Integration absent or not an object: report each of its required fields, as Rokt does.
        if isinstance(data, dict) and not isinstance(data.get("integration"), dict):
            return {**data, "integration": {}}
        return data

    @classmethod
    def from_body(cls, raw: bytes) -> ExperienceRequest:
        """Parse and validate a caller's body: 400 `InvalidRequestPayload` when it is not a
        JSON object, 422 with Rokt's codes when fields are missing or invalid."""
        try:
            body = parse_json_object(raw, max_bytes=MAX_BODY_BYTES)
        except InvalidRequest as exc:
            exc.errors = [{"code": "InvalidRequestPayload", "message": exc.detail}]
            raise
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            errors = _rokt_errors(exc.errors())
            raise UnprocessableRequest(
                "the Rokt request is invalid: " + ", ".join(e["code"] for e in errors),
                code="ROKT_VALIDATION",
                errors=errors,
            ) from None

    def rokt_body(self) -> dict[str, Any]:
        """What goes to Rokt: the caller's request without the gateway's own field."""
        return self.model_dump(mode="json", exclude={"cacheKey"}, exclude_none=True)

    def cache_id(self) -> str | None:
        """The cache entry's key: a digest, so no user id is stored in clear as a key."""
        if self.cacheKey is None:
            return None
        parts = [self.cacheKey.transactionId, self.cacheKey.userId, self.integration.deviceType]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _rokt_errors(details: list[ErrorDetails]) -> list[dict[str, str]]:
    errors: dict[str, dict[str, str]] = {}
    for detail in details:
        path = [str(p) for p in detail["loc"]]
        field_path = path[:2] if path[0] in ("integration", "cacheKey") else path[:1]
        missing = detail["type"] in ("missing", "string_too_short")
        code = _code(field_path, missing=missing)
        # Rokt's style of message: "Integration.Name is required".
        name = ".".join(part[:1].upper() + part[1:] for part in field_path)
        message = f"{name} is required" if missing else f"{name} is invalid: {detail['msg']}"
        errors.setdefault(code, {"code": code, "message": message, "pointer": "/" + "/".join(path)})
    return list(errors.values())


def _code(field_path: list[str], *, missing: bool) -> str:
    """Rokt's naming: `integration.layoutSchemaVersion` missing ->
    `IntegrationLayoutSchemaVersionNotProvided`; the platform enum is
    `IntegrationPlatformInvalid`."""
    name = "".join(part[:1].upper() + part[1:] for part in field_path)
    if not re.fullmatch(r"[A-Za-z]+", name):
        return "RequestInvalid"
    if field_path == ["integration", "platform"]:
        return "IntegrationPlatformInvalid"
    return name + ("NotProvided" if missing else "Invalid")
