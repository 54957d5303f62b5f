"""Rokt V2 Partner Experiences API sandbox: answers as Rokt's API document describes (docs/rokt.md).

Checks the authentication and required headers, validates the body with Rokt's error codes, and
answers with the document's bodies: the success experience for a user with an `email` attribute
(the sandbox's only offer needs one), else the document's empty experience."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from devserver.vendors.base import Reply, Request, VendorSandbox

PATH = "/v2/partner/experiences"
BODIES = Path(__file__).with_name("rokt_bodies")
SUCCESS: dict[str, Any] = json.loads((BODIES / "success.json").read_text())
EMPTY: dict[str, Any] = json.loads((BODIES / "empty.json").read_text())
ACCOUNT_ID = "106"  # the account of the document's offer
# The platform enum's values the document names (Web, Mobile, iOS) and Android, whose UX helper
# library the document mentions.
PLATFORMS = frozenset({"Web", "Mobile", "iOS", "Android"})
INTEGRATION_FIELDS = (
    "name",
    "version",
    "framework",
    "layoutSchemaVersion",
    "deviceLocale",
    "deviceModel",
    "deviceType",
    "operatingSystem",
    "operatingSystemVersion",
    "packageName",
    "packageVersion",
)


def _rokt_error(status: int, title: str, errors: list[dict[str, str]]) -> Reply:
    return Reply(status, {"title": title, "status": status, "success": False, "errors": errors})


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


class RoktSandbox(VendorSandbox):
    name = "rokt"

    def __init__(
        self,
        public_id: str = "sandbox-rokt-pub-id",
        secret: str = "sandbox-rokt-secret",  # noqa: S107 - a sandbox credential (secret_guard)
        tag_id: str = "3068704822624787054",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.public_id = public_id
        self.secret = secret
        self.tag_id = tag_id

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != PATH:
            return Reply(404, {"title": "NotFound", "status": 404, "success": False})
        if (request.header("rokt-pub-id"), request.header("rokt-secret")) != (
            self.public_id,
            self.secret,
        ):
            return _rokt_error(401, "Unauthorized", [])
        if not _is_json(request.header("accept")):
            return _rokt_error(406, "NotAcceptable", [])
        if not _is_json(request.header("content-type")):
            return _invalid_payload()
        try:
            body = json.loads(request.body)
        except ValueError:
            return _invalid_payload()
        if not isinstance(body, dict):
            return _invalid_payload()
        errors = self._validate(body, request.header("rokt-tag-id"))
        if errors:
            return _rokt_error(422, "Validation failed", errors)
        return self._experience(body)

    def _validate(self, body: dict[str, Any], tag_id: str | None) -> list[dict[str, str]]:
        integration = body.get("integration")
        integration = integration if isinstance(integration, dict) else {}
        errors = [
            {
                "code": f"Integration{_pascal(field)}NotProvided",
                "message": f"Integration.{_pascal(field)} is required",
            }
            for field in INTEGRATION_FIELDS
            if not _text(integration.get(field))
        ]
        if integration.get("platform") not in PLATFORMS:
            errors.append(
                {"code": "IntegrationPlatformInvalid", "message": "Integration.Platform is invalid"}
            )
        if not _text(body.get("pageIdentifier")):
            errors.append(
                {"code": "PageIdentifierNotProvided", "message": "PageIdentifier is required"}
            )
        if tag_id != self.tag_id:
            errors.append(
                {"code": "PartnerIdNotProvided", "message": "rokt-tag-id is missing or wrong"}
            )
        return errors

    def _experience(self, body: dict[str, Any]) -> Reply:
        attributes = body.get("attributes")
        has_email = isinstance(attributes, dict) and bool(attributes.get("email"))
        experience = copy.deepcopy(SUCCESS if has_email else EMPTY)
        if _text(body.get("sessionId")):
            experience["sessionId"] = body["sessionId"]  # an existing session goes on
        return Reply(
            200,
            experience,
            headers={
                "rokt-session-id": experience["sessionId"],
                "rokt-account-id": ACCOUNT_ID,
                "etag": f'"{experience["pageContext"]["pageInstanceGuid"]}"',
            },
        )


def _invalid_payload() -> Reply:
    return _rokt_error(
        400,
        "BadRequest",
        [{"code": "InvalidRequestPayload", "message": "the request body's format is invalid"}],
    )


def _is_json(media_type: str | None) -> bool:
    return bool(media_type) and re.match(r"application/json\s*(;|$)", media_type or "") is not None


def _text(value: object) -> bool:
    return isinstance(value, str) and value != ""
