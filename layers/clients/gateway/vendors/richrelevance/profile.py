"""RichRelevance Profile Command API client: PUT {base}/optOut/{userId} (bearer token)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, field_validator

from gateway.core.envelope import Kind, WriteRequest
from gateway.core.errors import InvalidRequest
from gateway.core.outcome import VendorResponse
from gateway.core.validation import validated
from gateway.vendors.http_session import raise_for_vendor_status
from gateway.vendors.richrelevance import oauth

if TYPE_CHECKING:
    from gateway.context import Context

VENDOR = oauth.VENDOR
MAX_BODY_BYTES = 1024
MAX_USER_ID_CHARS = 1024
# Path segments that a URL resolves (RFC 3986 dot segments), even percent-encoded: as a user id
# they would steer the call to another vendor path.
DOT_SEGMENTS = frozenset({".", ".."})


class OptOutBody(BaseModel):
    """The caller's body: `{"enableOptOut": true|false}` (a JSON boolean)."""

    model_config = ConfigDict(extra="forbid")

    enableOptOut: StrictBool  # noqa: N815 - the vendor's and the contract's name


class OptOutRequest(WriteRequest):
    kind: ClassVar[Kind] = "rr.opt_out"

    # Any string the site uses as its user id; it is URL-encoded into the vendor path.
    user_id: str = Field(min_length=1, max_length=MAX_USER_ID_CHARS)
    enable_opt_out: StrictBool

    @field_validator("user_id")
    @classmethod
    def _not_a_dot_segment(cls, value: str) -> str:
        # A replayed envelope is checked again: a hand-edited one must not steer the path.
        if value in DOT_SEGMENTS:
            raise ValueError("must not be '.' or '..'")
        return value

    def send(self, context: Context, *, fresh_credentials: bool = False) -> VendorResponse:
        base = context.settings.rr_profile_command_base
        url = f"{base}/optOut/{quote(self.user_id, safe='')}"
        response = oauth.send(
            context,
            "PUT",
            base,
            url,
            payload={"type": "optOut", "enableOptOut": self.enable_opt_out},
            fresh_credentials=fresh_credentials,
        )
        raise_for_vendor_status(response, vendor=VENDOR)
        return VendorResponse.of(response)


_BODY = TypeAdapter(OptOutBody)


def opt_out_request(user_id: str, body: dict[str, Any]) -> OptOutRequest:
    if not 1 <= len(user_id) <= MAX_USER_ID_CHARS:
        raise InvalidRequest(
            f"userId must have 1 to {MAX_USER_ID_CHARS} characters",
            code="INVALID_USER_ID",
            errors=[{"pointer": "/path/userId", "detail": "must have 1 to 1024 characters"}],
        )
    if user_id in DOT_SEGMENTS:
        raise InvalidRequest(
            "userId must not be '.' or '..'",
            code="INVALID_USER_ID",
            errors=[{"pointer": "/path/userId", "detail": "must not be a dot segment"}],
        )
    parsed = validated(_BODY, body, code="INVALID_OPT_OUT", what="opt-out body is invalid")
    return OptOutRequest(user_id=user_id, enable_opt_out=parsed.enableOptOut)
