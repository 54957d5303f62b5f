"""RichRelevance sandbox: the Profile Command API and the Content Update API behind one server
(the vendor documents as summarized in docs/richrelevance.md).

Each API has its own OAuth2 token endpoint, `POST {base}/oauth2/token`, and a token is good only
for the API that issued it. Tokens live until revoked (as documented) unless `token_ttl_seconds`
is set, in which case the answer carries `expires_in` and the token expires on the sandbox clock.
Issued tokens match `ISSUED_TOKEN` so that tests/secret_guard.py treats them as secrets.

Control, beside base.py's:  POST /_sandbox/revoke-tokens   every issued token becomes invalid
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from devserver.vendors.base import CONTROL_PREFIX, Reply, Request, VendorSandbox

PROFILE_PREFIX = "/profile-command/v1"
CONTENT_PREFIX = "/contentupdate/v1"
TOKEN_SUFFIX = "/oauth2/token"  # noqa: S105 - a path
ISSUED_TOKEN = re.compile(r"rrsbx_[0-9a-f]{32}")
OPT_OUT = re.compile(re.escape(PROFILE_PREFIX) + r"/optOut/(?P<user>[^/]+)")
PROPERTIES = {"id", "name", "tags", "rating", "start_date", "end_date"}

INVALID_TOKEN = {
    "error_description": "The access token is invalid or has expired",
    "error": "invalid_token",
}
INVALID_CLIENT = {"error_description": "Invalid client authentication", "error": "invalid_client"}
INVALID_GRANT = {"error_description": "Invalid grant_type", "error": "unsupported_grant_type"}


def content_error(code: int, message: str, details: str) -> Reply:
    """The Content Update API's error body (its bad JSON answer is a 500, as documented)."""
    return Reply(code, {"code": code, "details": details, "message": message, "status": "error"})


@dataclass
class IssuedToken:
    prefix: str
    expires_at: float | None
    revoked: bool = False


class RichRelevanceSandbox(VendorSandbox):
    name = "richrelevance"

    def __init__(
        self,
        client_id: str = "sandbox-rr-client-id",
        client_secret: str = "sandbox-rr-client-secret",  # noqa: S107 - the sandbox's own
        token_ttl_seconds: float | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl_seconds = self._default_ttl = token_ttl_seconds
        self.clock_offset = 0.0  # advance_clock() moves the sandbox's time, not the machine's
        self._state_lock = threading.Lock()
        self.tokens: dict[str, IssuedToken] = {}
        self.opted_out: dict[str, bool] = {}
        self.catalog: dict[str, dict[str, Any]] = {}
        self.tracking_ids: list[str] = []

    # --- test helpers ---------------------------------------------------------------------
    def reset_state(self) -> None:
        with self._state_lock:
            self.tokens.clear()
            self.opted_out.clear()
            self.catalog.clear()
            self.tracking_ids.clear()
            self.clock_offset = 0.0
            self.token_ttl_seconds = self._default_ttl

    def revoke_tokens(self) -> None:
        with self._state_lock:
            for token in self.tokens.values():
                token.revoked = True

    def advance_clock(self, seconds: float) -> None:
        with self._state_lock:
            self.clock_offset += seconds

    def token_requests(self, prefix: str) -> list[Request]:
        """Calls to the token endpoint of the API under `prefix`."""
        return [r for r in list(self.requests) if r.path == prefix + TOKEN_SUFFIX]

    def api_requests(self, prefix: str) -> list[Request]:
        """Calls to the API under `prefix` (not its token endpoint), accepted or not."""
        return [
            r
            for r in list(self.requests)
            if r.path.startswith(prefix) and not r.path.endswith(TOKEN_SUFFIX)
        ]

    def _now(self) -> float:
        return time.monotonic() + self.clock_offset

    # --- the vendor ---------------------------------------------------------------------------
    def _control(self, request: Request) -> Reply:
        if request.path == CONTROL_PREFIX + "/revoke-tokens" and request.method == "POST":
            self.revoke_tokens()
            return Reply(204)
        return super()._control(request)

    def handle(self, request: Request) -> Reply:
        for prefix in (PROFILE_PREFIX, CONTENT_PREFIX):
            if request.path == prefix + TOKEN_SUFFIX:
                if request.method != "POST":
                    return Reply(405, {"error": "Method Not Allowed"})
                return self._issue_token(prefix, request)
        if request.path.startswith(PROFILE_PREFIX + "/"):
            return self._authorized(PROFILE_PREFIX, request) or self._opt_out(request)
        if request.path.rstrip("/") == CONTENT_PREFIX:
            return self._authorized(CONTENT_PREFIX, request) or self._content(request)
        return Reply(404, {"error": "Not Found"})

    def _issue_token(self, prefix: str, request: Request) -> Reply:
        content_type = (request.header("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            return Reply(400, {"error": "invalid_request", "error_description": "form body"})
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return Reply(400, INVALID_GRANT)
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return Reply(401, INVALID_CLIENT)
        value = "rrsbx_" + secrets.token_hex(16)
        ttl = self.token_ttl_seconds
        with self._state_lock:
            self.tokens[value] = IssuedToken(prefix, None if ttl is None else self._now() + ttl)
        body: dict[str, Any] = {"token_type": "bearer", "access_token": value}
        if ttl is not None:
            body["expires_in"] = ttl
        return Reply(200, body)

    def _authorized(self, prefix: str, request: Request) -> Reply | None:
        """None when the bearer token is good for `prefix`; the document's 401 otherwise."""
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        with self._state_lock:
            token = self.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
            good = (
                token is not None
                and token.prefix == prefix
                and not token.revoked
                and (token.expires_at is None or self._now() < token.expires_at)
            )
        return None if good else Reply(401, INVALID_TOKEN)

    def _opt_out(self, request: Request) -> Reply:
        match = OPT_OUT.fullmatch(request.path)
        if not match:
            return Reply(404, {"error": "Not Found"})
        if request.method != "PUT":
            return Reply(405, {"error": "Method Not Allowed"})
        try:
            body = json.loads(request.body)
        except ValueError:
            return Reply(400, {"error": "Bad Request"})
        if (
            not isinstance(body, dict)
            or body.get("type") != "optOut"
            or not isinstance(body.get("enableOptOut"), bool)
        ):
            return Reply(400, {"error": "Bad Request"})
        with self._state_lock:
            self.opted_out[unquote(match["user"])] = body["enableOptOut"]
        return Reply(200, {})

    def _content(self, request: Request) -> Reply:
        if request.method not in ("PUT", "PATCH"):
            return Reply(405, {"error": "Method Not Allowed"})
        try:
            items = json.loads(request.body)
        except ValueError as exc:
            return content_error(500, "Internal Server Error", str(exc))
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return content_error(500, "Internal Server Error", "expected an array of objects")
        for item in items:
            item_id = item.get("id")
            if not isinstance(item_id, str) or not item_id:
                return content_error(400, "Bad Request", "{}")
            if len(item_id) > 100 or "/" in item_id:
                return content_error(400, "Bad Request", json.dumps({"id": item_id}))
        with self._state_lock:
            for item in items:
                self._store(request.method, item)
            tracking_id = str(uuid.uuid4())
            self.tracking_ids.append(tracking_id)
        return Reply(200, {"trackingId": tracking_id})

    def _store(self, method: str, item: dict[str, Any]) -> None:
        if method == "PATCH":
            self.catalog.setdefault(item["id"], {"id": item["id"]}).update(item)
            return
        # PUT replaces the item; one without any attribute is not stored (the document).
        if set(item) - PROPERTIES:
            self.catalog[item["id"]] = dict(item)
