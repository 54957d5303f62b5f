"""The local runtime's CORS (devserver.cors) as API Gateway's HTTP API answers: from the
template's CorsConfiguration, allowed origins echoed, credentials never with `*`."""

from __future__ import annotations

from pathlib import Path

import pytest

from devserver.cors import CorsPolicy
from devserver.template import Template

SDK_PREFLIGHT = {
    "origin": "http://localhost:3000",
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization,content-type",
}
POLICY = CorsPolicy(
    allow_origins=("http://localhost:3000", "https://shop.example.com"),
    allow_methods=("POST", "PUT", "OPTIONS"),
    allow_headers=("content-type", "accept", "authorization", "wp13n-token"),
    max_age=600,
    allow_credentials=True,
)


def test_preflight_from_an_allowed_origin_echoes_it_with_credentials() -> None:
    headers = POLICY.preflight(SDK_PREFLIGHT)

    assert headers == {
        "Access-Control-Allow-Origin": "http://localhost:3000",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "POST, PUT, OPTIONS",
        "Access-Control-Allow-Headers": "content-type, accept, authorization, wp13n-token",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:3001", "http://localhost:3000.evil.example", "null", None]
)
def test_other_origins_get_no_cors_headers(origin: str | None) -> None:
    request = {**SDK_PREFLIGHT, "origin": origin} if origin else {}

    assert POLICY.preflight(request) == {"Vary": "Origin"}
    assert POLICY.response_headers(origin) == {"Vary": "Origin"}


def test_answers_to_an_allowed_origin_carry_its_echo_and_credentials() -> None:
    assert POLICY.response_headers("https://shop.example.com") == {
        "Access-Control-Allow-Origin": "https://shop.example.com",
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def test_star_with_credentials_is_refused_as_api_gateway_refuses_it() -> None:
    with pytest.raises(ValueError, match="AllowCredentials"):
        CorsPolicy(allow_origins=("*",), allow_credentials=True)


def test_star_without_credentials_is_star_and_wildcard_headers_name_the_requested() -> None:
    policy = CorsPolicy(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",))

    headers = policy.preflight(SDK_PREFLIGHT)

    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers
    assert headers["Access-Control-Allow-Methods"] == "POST"
    assert headers["Access-Control-Allow-Headers"] == "authorization, content-type"


def test_without_cors_configuration_there_are_no_cors_headers() -> None:
    assert CorsPolicy().response_headers("http://localhost:3000") == {}


def test_also_allowing_adds_origins_once() -> None:
    policy = POLICY.also_allowing(["http://127.0.0.1:3000", "http://localhost:3000"])

    assert policy.allow_origins == (*POLICY.allow_origins, "http://127.0.0.1:3000")
    assert policy.allow_credentials


def test_read_from_a_template_with_a_comma_delimited_parameter(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Parameters:
  CorsAllowOrigins:
    Type: CommaDelimitedList
    Default: "http://localhost:3000, https://127.0.0.1:3443"
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref CorsAllowOrigins
        AllowMethods: [post, OPTIONS]
        AllowHeaders: [Content-Type, Authorization]
        AllowCredentials: true
        ExposeHeaders: [Retry-After]
        MaxAge: 300
"""
    )

    policy = CorsPolicy.from_template(Template(template))

    assert policy == CorsPolicy(
        allow_origins=("http://localhost:3000", "https://127.0.0.1:3443"),
        allow_methods=("POST", "OPTIONS"),
        allow_headers=("content-type", "authorization"),
        expose_headers=("Retry-After",),
        max_age=300,
        allow_credentials=True,
    )
    assert policy.response_headers("https://127.0.0.1:3443")["Access-Control-Expose-Headers"] == (
        "Retry-After"
    )
