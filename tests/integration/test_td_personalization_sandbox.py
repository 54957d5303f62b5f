"""The TD personalization sandbox speaks the vendor document: headers checked, events checked,
and every error code of the document producible on demand through the control endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devserver.vendors.td_personalization import CODES, TdPersonalizationSandbox

VND_JSON = "application/vnd.treasuredata.v1+json"
HEADERS = {
    "Content-Type": VND_JSON,
    "WP13n-Token": "1/8/sandbox-p13n-token",
    "Authorization": "TD1 1/sandbox-td-api-key",
}
EVENT = {"td_client_id": "c-1", "time": 1764000000, "uuid": "e-1"}


@pytest.fixture
def sandbox(td_p13n_sandbox: TdPersonalizationSandbox) -> Iterator[TdPersonalizationSandbox]:
    td_p13n_sandbox.reset()
    yield td_p13n_sandbox
    td_p13n_sandbox.reset()


def post(
    sandbox: TdPersonalizationSandbox,
    body: Any = EVENT,
    path: str = "/web_p13n/page_views",
    **headers: str,
) -> requests.Response:
    sent = {k: v for k, v in {**HEADERS, **headers}.items() if v}
    data = body if isinstance(body, str) else json.dumps(body)
    return requests.post(sandbox.url + path, data=data, headers=sent, timeout=5)


def test_event_with_the_documents_headers_is_ingested(sandbox: TdPersonalizationSandbox) -> None:
    response = post(sandbox)

    assert response.status_code == 204
    assert response.content == b""
    assert sandbox.events("web_p13n", "page_views") == [EVENT]


def test_the_documents_example_url_answers_with_a_personalization(
    sandbox: TdPersonalizationSandbox,
) -> None:
    response = post(sandbox, path="/personalization__database/preferences_table")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == VND_JSON
    assert response.json()["offers"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "application/json"}, 415),
        ({"Authorization": ""}, 401),
        ({"Authorization": "TD1 1/other-key"}, 401),
    ],
)
def test_wrong_content_type_or_api_key_is_refused(
    sandbox: TdPersonalizationSandbox, headers: dict[str, str], status: int
) -> None:
    assert post(sandbox, **headers).status_code == status
    assert sandbox.received == []


@pytest.mark.parametrize(
    ("token", "code"),
    [("", 3000), ("1/8/other", 3001), ("2/8/sandbox-p13n-token", 3002), ("1-8-token", 3003)],
)
def test_token_problems_have_the_documents_codes(
    sandbox: TdPersonalizationSandbox, token: str, code: int
) -> None:
    response = post(sandbox, **{"WP13n-Token": token})

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert "sandbox-p13n-token" not in response.text


@pytest.mark.parametrize(
    "body",
    ["{", [EVENT], {"uuid": "e-1"}, {"time": 1764000000}, {**EVENT, "time": "now"}],
)
def test_invalid_events_are_3004(sandbox: TdPersonalizationSandbox, body: Any) -> None:
    response = post(sandbox, body=body)

    assert response.status_code == 400
    assert response.json()["code"] == 3004


@pytest.mark.parametrize(("code", "documented"), sorted(CODES.items()))
def test_every_documented_code_on_demand(
    sandbox: TdPersonalizationSandbox, code: int, documented: tuple[int, str]
) -> None:
    control = requests.post(
        f"{sandbox.url}/_sandbox/faults", json={"code": code, "count": 1}, timeout=5
    )
    assert control.status_code == 201

    failed, recovered = post(sandbox), post(sandbox)

    status, message = documented
    assert failed.status_code == status
    assert failed.json()["code"] == code
    assert failed.json()["message"] == message
    assert recovered.status_code == 204
