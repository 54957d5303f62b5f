"""RichRelevance Profile Command API client: PUT {base}/optOut/{userId} (bearer token)."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter

from gateway import http_session, rr_oauth
from gateway.envelope import Kind, WriteRequest
from gateway.errors import InvalidRequest
from gateway.settings import get_settings
from gateway.validation import validated
from gateway.vendor_response import VendorResponse

VENDOR = rr_oauth.VENDOR
MAX_BODY_BYTES = 1024
MAX_USER_ID_CHARS = 1024


class OptOutBody(BaseModel):
    """The caller's body: `{"enableOptOut": true|false}` (a JSON boolean)."""

    model_config = ConfigDict(extra="forbid")

    enableOptOut: StrictBool  # noqa: N815 - the vendor's and the contract's name


class OptOutRequest(WriteRequest):
    kind: ClassVar[Kind] = "rr.opt_out"

    # Any string the site uses as its user id; it is URL-encoded into the vendor path.
    user_id: str = Field(min_length=1, max_length=MAX_USER_ID_CHARS)
    enable_opt_out: StrictBool


_BODY = TypeAdapter(OptOutBody)


def opt_out_request(user_id: str, body: dict[str, Any]) -> OptOutRequest:
    if not 1 <= len(user_id) <= MAX_USER_ID_CHARS:
        raise InvalidRequest(
            f"userId must have 1 to {MAX_USER_ID_CHARS} characters",
            code="INVALID_USER_ID",
            errors=[{"pointer": "/path/userId", "detail": "must have 1 to 1024 characters"}],
        )
    parsed = validated(_BODY, body, code="INVALID_OPT_OUT", what="opt-out body is invalid")
    return OptOutRequest(user_id=user_id, enable_opt_out=parsed.enableOptOut)


def send(request: OptOutRequest) -> VendorResponse:
    base = get_settings().rr_profile_command_base
    url = f"{base}/optOut/{quote(request.user_id, safe='')}"
    response = rr_oauth.send(
        "PUT", base, url, payload={"type": "optOut", "enableOptOut": request.enable_opt_out}
    )
    http_session.raise_for_vendor_status(response, vendor=VENDOR)
    return VendorResponse.of(response)
