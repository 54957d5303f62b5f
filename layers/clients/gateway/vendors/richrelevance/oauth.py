"""RichRelevance OAuth2 client credentials (both RichRelevance documents): one bearer token per
API base URL, fetched from `POST {base}/oauth2/token` on first use and kept in memory. The vendor
says a token lives until it is revoked, so it is fetched again only when the vendor answers
`invalid_token` (once, then the call is repeated) or when a token response carries `expires_in`
and that time, less a safety margin, has passed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from gateway.core.errors import UpstreamAuth, UpstreamUnavailable, is_retryable_status
from gateway.core.observability import logger, metrics
from gateway.vendors.http_session import raise_for_vendor_status

if TYPE_CHECKING:
    from gateway.context import Context

VENDOR = "richrelevance"
# The documents' headings say "/oath2/token"; their curl example and endpoint list say
# "/oauth2/token", the standard spelling, which is what the gateway calls.
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a password
# OAuth2 errors of the token endpoint that mean our client registration is wrong.
CREDENTIAL_ERRORS = frozenset(
    {"invalid_client", "unsupported_grant_type", "unauthorized_client", "invalid_grant"}
)
MAX_EXPIRY_MARGIN_SECONDS = 60.0


@dataclass(frozen=True)
class _Token:
    value: str = field(repr=False)
    usable_until: float | None  # monotonic seconds; None: until the vendor says invalid_token


def usable_until(expires_in: object, now: float) -> float | None:
    """When a token with `expires_in` seconds stops being used: 10% early, at most 60 s early."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        return None
    return now + expires_in - min(MAX_EXPIRY_MARGIN_SECONDS, expires_in * 0.1)


class TokenProvider:
    """Thread-safe token cache keyed by base URL (RetryFunction replays items in threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._fetch_locks: dict[str, threading.Lock] = {}

    def token(self, context: Context, base: str, *, fresh_credentials: bool = False) -> str:
        """The bearer token for `base`; `fresh_credentials`: fetched anew with the client
        credentials read again from Secrets Manager (after the vendor refused them)."""
        cached = None if fresh_credentials else self._cached(base)
        if cached is not None:
            return cached
        with self._fetch_lock(base):
            # Another thread may have fetched it while this one waited: one fetch, not N.
            cached = None if fresh_credentials else self._cached(base)
            if cached is not None:
                return cached
            token = _fetch(context, base, now=self._clock(), fresh_credentials=fresh_credentials)
            with self._lock:
                self._tokens[base] = token
            return token.value

    def invalidate(self, base: str, value: str) -> None:
        """Forget `value` unless another thread has replaced it already."""
        with self._lock:
            current = self._tokens.get(base)
            if current is not None and current.value == value:
                del self._tokens[base]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _cached(self, base: str) -> str | None:
        with self._lock:
            token = self._tokens.get(base)
        if token is None:
            return None
        if token.usable_until is not None and self._clock() >= token.usable_until:
            return None
        return token.value

    def _fetch_lock(self, base: str) -> threading.Lock:
        with self._lock:
            return self._fetch_locks.setdefault(base, threading.Lock())


def oauth_error(response: requests.Response) -> str | None:
    """The OAuth2 `error` of a 4xx answer (`invalid_token`, `invalid_client`, ...), if any."""
    if not 400 <= response.status_code < 500:
        return None
    error = _json_object(response).get("error")
    return error if isinstance(error, str) else None


def _fetch(context: Context, base: str, *, now: float, fresh_credentials: bool) -> _Token:
    credentials = context.secrets.rich_relevance(fresh=fresh_credentials)
    response = context.http.send(
        "POST",
        base + TOKEN_PATH,
        vendor=VENDOR,
        headers={"Accept": "application/json"},
        # A dict body goes out form-encoded (application/x-www-form-urlencoded), as documented.
        data={
            "grant_type": "client_credentials",
            "client_id": credentials.client_id.get_secret_value(),
            "client_secret": credentials.client_secret.get_secret_value(),
        },
    )
    status = response.status_code
    if is_retryable_status(status):
        raise_for_vendor_status(
            response, vendor=VENDOR, detail=f"{VENDOR} token endpoint answered HTTP {status}"
        )
    if status >= 300:
        error = oauth_error(response) or f"HTTP {status}"
        hint = " (check RR_SECRET_ID)" if error in CREDENTIAL_ERRORS or status in (401, 403) else ""
        raise UpstreamAuth(
            f"{VENDOR} token endpoint refused the gateway's client credentials: {error}{hint}",
            vendor=VENDOR,
            upstream_status=status,
        )
    body = _json_object(response)
    value = body.get("access_token")
    if not isinstance(value, str) or not value:
        raise UpstreamUnavailable(
            f"{VENDOR} token endpoint answered without an access_token",
            vendor=VENDOR,
            upstream_status=status,
        )
    metrics.add_metric(name="TokenFetched", unit="Count", value=1)
    logger.info("richrelevance token fetched", extra={"token_base": base})
    return _Token(value, usable_until(body.get("expires_in"), now))


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def send(
    context: Context,
    method: str,
    base: str,
    url: str,
    *,
    payload: Any,
    fresh_credentials: bool = False,
) -> requests.Response:
    """A bearer-authorized JSON call to an API under `base`. On `invalid_token` the token is
    fetched again once and the call repeated; a second refusal is our credentials' problem."""
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    tokens = context.rr_tokens
    # With fresh credentials the token is new already: a refusal of it is final.
    for attempt in (1,) if fresh_credentials else (1, 2):
        token = tokens.token(context, base, fresh_credentials=fresh_credentials)
        response = context.http.send(
            method,
            url,
            vendor=VENDOR,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            data=data,
        )
        if oauth_error(response) != "invalid_token":
            return response
        tokens.invalidate(base, token)
        logger.info("richrelevance token refused; fetching a new one", extra={"attempt": attempt})
    raise UpstreamAuth(
        f"{VENDOR} refused a freshly issued token (invalid_token)",
        vendor=VENDOR,
        upstream_status=response.status_code,
    )
