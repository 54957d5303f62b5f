"""The local runtime's HTTP front plays API Gateway's authorizers: the JWT authorizer of the open
routes when JwtIssuer is set (an identity provider the test runs on loopback, tokens signed by a
key the test makes), and the IAM caller of AWS_IAM routes from a SigV4 header's credential."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from devserver.api_server import ApiServer, bind_routes
from devserver.cors import CorsPolicy
from devserver.jwt_authorizer import JwtAuthorizer
from devserver.template import Template

AUDIENCE = "web-client"


class IdentityProvider:
    """An OIDC issuer on loopback: discovery document and JWKS, and a signing key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwks = {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                documents = {
                    "/.well-known/openid-configuration": {
                        "issuer": provider.issuer,
                        "jwks_uri": provider.issuer + "/keys",
                    },
                    "/keys": jwks,
                }
                body = json.dumps(documents.get(self.path, {})).encode()
                self.send_response(200 if self.path in documents else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key: rsa.RSAPrivateKey | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": "user-42",
            "exp": now + 600,
            "nbf": now - 5,
            "iat": now,
            "scope": "events:write profile",
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})


class RecordingPool:
    """Stands in for a function's worker pool: records the event API Gateway would hand over."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "body": "{}", "headers": {"Content-Type": "application/json"}}


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    yield provider
    provider.server.shutdown()


def serve(template: Template) -> tuple[ApiServer, dict[str, RecordingPool]]:
    """The local runtime's API front for the template's routes, over recording pools."""
    functions = template.functions()
    pools = {fn.logical_id: RecordingPool() for fn in functions}
    server = ApiServer(
        ("127.0.0.1", 0),
        bind_routes({fn.logical_id: fn.routes for fn in functions}),
        pools,  # type: ignore[arg-type]
        cors=CorsPolicy(),
        quiet=True,
        jwt=JwtAuthorizer.from_template(template),
    )
    return server, pools


@pytest.fixture
def api(idp: IdentityProvider) -> Iterator[tuple[str, dict[str, RecordingPool]]]:
    template = Template(parameters={"JwtIssuer": idp.issuer, "JwtAudience": f"{AUDIENCE},app"})
    server, pools = serve(template)
    server.start()
    yield server.url, pools
    server.stop()


def _post(url: str, token: str | None = None, **headers: str) -> requests.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(url, json={"user_id": "u-1"}, headers=headers, timeout=30)


OPEN_PATHS = [
    ("PostbackFunction", "/v1/postback/web_events/pageviews"),
    ("PostbackFunction", "/v1/td/web_events/pageviews"),
    ("PersonalizationFunction", "/v1/personalization/web_p13n/page_views"),
    ("PersonalizationFunction", "/v1/personalization/public/web_p13n/page_views"),
]


@pytest.mark.parametrize(("function", "path"), OPEN_PATHS)
def test_open_routes_require_a_valid_token_and_hand_over_its_claims(
    api: tuple[str, dict[str, RecordingPool]], idp: IdentityProvider, function: str, path: str
) -> None:
    url, pools = api
    answer = _post(url + path)
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized"}
    assert pools[function].events == []

    assert _post(url + path, idp.token()).status_code == 200
    [event] = pools[function].events
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    assert jwt_context["claims"]["sub"] == "user-42"
    assert jwt_context["claims"]["iss"] == idp.issuer
    assert jwt_context["claims"]["exp"].isdigit()  # payload 2.0: claims as strings
    assert jwt_context["scopes"] == ["events:write", "profile"]


@pytest.mark.parametrize(
    "case",
    ["wrong-audience", "wrong-issuer", "expired", "not-yet-valid", "other-key", "no-exp", "junk"],
)
def test_tokens_api_gateway_refuses_are_refused(
    api: tuple[str, dict[str, RecordingPool]], idp: IdentityProvider, case: str
) -> None:
    url, pools = api
    now = int(time.time())
    claims: dict[str, dict[str, Any]] = {
        "wrong-audience": {"aud": "someone-else"},
        "wrong-issuer": {"iss": "https://issuer.example.com"},
        "expired": {"exp": now - 60},
        "not-yet-valid": {"nbf": now + 600},
        "no-exp": {"exp": None},
    }
    if case == "junk":
        token = "not.a.jwt"
    elif case == "other-key":
        token = idp.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    else:
        token = idp.token(**claims[case])
    answer = _post(url + "/v1/postback/web_events/pageviews", token)
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized"}
    assert pools["PostbackFunction"].events == []


def test_client_id_counts_as_audience_and_bare_tokens_are_read(
    api: tuple[str, dict[str, RecordingPool]], idp: IdentityProvider
) -> None:
    url, pools = api
    token = idp.token(aud=None, client_id="app")
    answer = requests.post(
        url + "/v1/postback/web_events/pageviews",
        json={},
        headers={"Authorization": token},
        timeout=30,
    )
    assert answer.status_code == 200
    assert (
        pools["PostbackFunction"].events[0]["requestContext"]["authorizer"]["jwt"]["claims"][
            "client_id"
        ]
        == "app"
    )


def test_iam_routes_ignore_the_jwt_and_name_the_sigv4_signer(
    api: tuple[str, dict[str, RecordingPool]],
) -> None:
    url, pools = api
    signed = (
        "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEA/20261201/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0000"
    )
    assert _post(url + "/v1/rokt/experiences", Authorization=signed).status_code == 200
    assert _post(url + "/v1/rokt/experiences").status_code == 200
    signer, unsigned = (
        e["requestContext"]["authorizer"]["iam"] for e in pools["RoktExperienceFunction"].events
    )
    assert signer["accessKey"] == "AKIAEXAMPLEA"
    assert signer["userArn"] == "arn:aws:iam::123456789012:user/AKIAEXAMPLEA"
    assert signer["accountId"] == "123456789012"
    assert unsigned["userArn"] == "arn:aws:iam::123456789012:user/local-developer"
    assert signer["userArn"] != unsigned["userArn"]


def test_without_an_issuer_the_open_routes_stay_open() -> None:
    template = Template()
    assert JwtAuthorizer.from_template(template) is None
    server, pools = serve(template)
    server.start()
    try:
        assert _post(server.url + "/v1/td/web_events/pageviews").status_code == 200
        [event] = pools["PostbackFunction"].events
        assert "authorizer" not in event["requestContext"]
    finally:
        server.stop()
