"""The personalization client's pieces that need no network: request model, hosts, codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from gateway.core.errors import ConfigurationError, InvalidRequest
from gateway.core.settings import Settings
from gateway.vendors.td.personalization import PersonalizationRequest, base_url
from gateway.vendors.td.personalization_errors import vendor_code


def _response(status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return response


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"code": 3001}, 3001),
        ({"error": {"code": 1003, "message": "..."}}, 1003),
        ({"errors": [{"code": "2013"}]}, 2013),
        ({"error": "Bad Request"}, None),
        ({"code": True}, None),
        (b"<html>bad gateway</html>", None),
    ],
)
def test_vendor_code_is_found_in_any_body_shape(body: Any, code: int | None) -> None:
    assert vendor_code(_response(400, body)) == code


@pytest.mark.parametrize("region", ["us01", "eu01", "ap01"])
def test_documented_regions_have_their_host(region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TD_REGION", region)
    monkeypatch.delenv("TD_P13N_ENDPOINT", raising=False)

    assert base_url(Settings()) == f"https://{region}.p13n.in.treasuredata.com"


def test_undocumented_region_needs_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TD_REGION", "ap02")
    monkeypatch.delenv("TD_P13N_ENDPOINT", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        base_url(Settings())
    assert caught.value.code == "P13N_REGION_UNSUPPORTED"

    monkeypatch.setenv("TD_P13N_ENDPOINT", "https://p13n.example.test/")
    assert base_url(Settings()) == "https://p13n.example.test"


def test_request_fills_time_and_uuid_once() -> None:
    request = PersonalizationRequest.model_validate(
        {"database": "web_p13n", "table": "page_views", "event": b'{"a": 1}'}
    )
    replayed = PersonalizationRequest.model_validate(request.model_dump(mode="json"))

    assert isinstance(request.event["time"], int)
    assert request.event["uuid"]
    assert replayed.event == request.event


def test_names_are_checked_before_the_body() -> None:
    with pytest.raises(InvalidRequest) as caught:
        PersonalizationRequest.model_validate(
            {"database": "Web", "table": "page_views", "event": b"not json"}
        )
    assert caught.value.code == "INVALID_DATABASE_NAME"
