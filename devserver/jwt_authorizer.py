"""The HTTP API JWT authorizer, played on loopback: what API Gateway does on the routes the
template guards with `JwtAuthorizer` when `JwtIssuer` is set. It reads the issuer's OpenID
discovery document for `jwks_uri`, accepts an RS256 token signed by one of those keys with the
issuer's `iss`, an audience (`aud` or `client_id`) in `JwtAudience` and valid `exp`/`nbf`, and
hands the function its claims as API Gateway does (payload 2.0: string values, scopes apart)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

from devserver.template import Template

UNAUTHORIZED = {"message": "Unauthorized"}
SCHEME = "JwtAuthorizer"
# API Gateway caches an issuer's keys; a key rotated in meanwhile is fetched on a miss.
KEYS_TTL_SECONDS = 300


@dataclass
class JwtAuthorizer:
    issuer: str
    audience: list[str]
    routes: set[tuple[str, str]] = field(default_factory=set)  # (METHOD, /path/{param})
    timeout_seconds: float = 5.0
    _client: jwt.PyJWKClient | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_template(cls, template: Template) -> JwtAuthorizer | None:
        """The template's authorizer, or None while `JwtIssuer` is empty (no authorizer)."""
        issuer = str(template.parameters.get("JwtIssuer") or "")
        if not issuer:
            return None
        audience = str(template.parameters.get("JwtAudience") or "")
        return cls(issuer, [a for a in audience.split(",") if a], guarded_routes(template))

    def guards(self, method: str, path: str) -> bool:
        return (method.upper(), path) in self.routes

    def authorize(self, authorization: str | None) -> dict[str, Any] | None:
        """`requestContext.authorizer` for a valid token, None for anything else (401)."""
        token = _bearer(authorization)
        if not token:
            return None
        try:
            key = self._keys().get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iss"], "verify_aud": False},
            )
        except (jwt.PyJWTError, requests.RequestException, KeyError, ValueError):
            return None
        audiences = claims.get("aud", claims.get("client_id"))
        if not set(audiences if isinstance(audiences, list) else [audiences]) & set(self.audience):
            return None
        scopes = claims.get("scope", claims.get("scp"))
        if isinstance(scopes, str):
            scopes = scopes.split()
        return {
            "jwt": {
                "claims": {name: _claim(value) for name, value in claims.items()},
                "scopes": list(scopes) if scopes else None,
            }
        }

    def _keys(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                discovery = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                answer = requests.get(discovery, timeout=self.timeout_seconds)
                answer.raise_for_status()
                jwks_uri = answer.json()["jwks_uri"]
                self._client = jwt.PyJWKClient(
                    jwks_uri, lifespan=KEYS_TTL_SECONDS, timeout=int(self.timeout_seconds)
                )
            return self._client


def guarded_routes(template: Template) -> set[tuple[str, str]]:
    """Routes whose OpenAPI operation in the HttpApi's DefinitionBody names the JWT scheme."""
    routes = set()
    for props in template.of_type("AWS::Serverless::HttpApi").values():
        paths = props.get("DefinitionBody", {}).get("paths", {})
        for path, item in paths.items():
            for method, operation in item.items():
                if SCHEME in json.dumps(operation.get("security")):
                    routes.add((method.upper(), path))
    return routes


def _bearer(authorization: str | None) -> str:
    value = (authorization or "").strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value


def _claim(value: Any) -> str:
    """Payload 2.0 hands claims over as strings; an array as `[a b]`."""
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
