"""The local runtime's web console endpoints and its HTTPS front, over HTTP like a user."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests
from cryptography import x509

from tests.e2e.conftest import Runtime, eventually
from tests.secret_guard import leaks
from tests.support.records import untimed


def cert_of(runtime: Runtime) -> Path:
    return runtime.log.parent / "tls" / "cert.pem"


def test_console_is_served_at_the_root_without_moving_the_api(runtime: Runtime) -> None:
    page = requests.get(f"{runtime.api}/", timeout=10)
    script = requests.get(f"{runtime.api}/_local/console/console.js", timeout=10)
    sdk = requests.get(f"{runtime.api}/_local/td-js-sdk/td.min.js", timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "/_local/console/console.js" in page.text
    assert script.status_code == 200
    assert sdk.status_code == 200
    assert "4.4.3" in sdk.text  # the version package-lock.json pins
    # The API's own routes and 404s are what they were.
    assert requests.get(f"{runtime.api}/v1/nothing", timeout=5).status_code == 404
    assert requests.get(
        f"{runtime.api}/_local/console/../../etc/passwd", timeout=5
    ).status_code in (
        400,
        404,
    )


def test_console_lists_every_route_with_an_example(runtime: Runtime) -> None:
    routes = requests.get(f"{runtime.api}/_local/console/routes", timeout=10).json()

    keys = {f"{r['method']} {r['path']}" for r in routes}
    assert {
        "POST /v1/td/{database}/{table}",
        "POST /v1/personalization/public/{database}/{table}",
    } <= keys
    sdk = next(r for r in routes if r["path"] == "/v1/td/{database}/{table}")
    assert json.loads(sdk["body"])["events"]
    assert sdk["contentType"] == "application/vnd.treasuredata.v1+json"


def test_console_passes_fault_calls_to_a_sandbox_and_shows_what_it_received(
    runtime: Runtime,
) -> None:
    marker = uuid.uuid4().hex
    faults = f"{runtime.api}/_local/console/sandboxes/td-postback/faults"

    added = requests.post(faults, json={"status": 503, "count": 1}, timeout=10)
    queued = requests.post(
        f"{runtime.api}/v1/postback/web_events/console", json={"m": marker}, timeout=15
    )
    cleared = requests.delete(faults, timeout=10)

    assert added.status_code == 201
    assert queued.status_code == 202
    assert cleared.status_code == 204

    def shown() -> bool:
        summary = requests.get(f"{runtime.api}/_local/console/sandboxes", timeout=10).json()
        return any(marker in json.dumps(r) for r in summary["td-postback"]["received"])

    assert eventually(shown, within=60)
    unknown = requests.post(f"{runtime.api}/_local/console/sandboxes/nope/faults", timeout=10)
    assert unknown.status_code == 404


def test_https_serves_the_same_api_with_the_runtimes_certificate(runtime: Runtime) -> None:
    https = runtime.state["api_https"]
    cert = x509.load_pem_x509_certificate(cert_of(runtime).read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    response = requests.post(
        f"{https}/v1/td/web_events/https",
        data=json.dumps({"events": [{"over": "tls"}]}),
        headers={"Content-Type": "application/vnd.treasuredata.v1+json"},
        verify=str(cert_of(runtime)),  # trusted as the certificate it is, not skipped
        timeout=15,
    )

    assert response.status_code == 200, response.text
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    bodies = [r["body"] for r in runtime.received("td-postback") if "over" in r["body"]]
    assert untimed(bodies) == [{"over": "tls"}]


def test_https_refuses_a_client_that_does_not_trust_it_and_keeps_serving(
    runtime: Runtime,
) -> None:
    https = runtime.state["api_https"]
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{https}/", timeout=10)  # the default trust store does not know it

    again = requests.get(f"{https}/", verify=str(cert_of(runtime)), timeout=10)
    assert again.status_code == 200


def test_preflight_over_https_from_an_allowed_origin(runtime: Runtime) -> None:
    response = requests.options(
        f"{runtime.state['api_https']}/v1/personalization/public/web_p13n/page_views",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        verify=str(cert_of(runtime)),
        timeout=10,
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response.headers["Vary"] == "Origin"


def test_console_never_shows_a_vendor_credential(runtime: Runtime) -> None:
    # The opt-out makes the gateway fetch RichRelevance's OAuth token with its client secret.
    opted = requests.put(
        f"{runtime.api}/v1/richrelevance/users/u-console/opt-out",
        json={"enableOptOut": True},
        timeout=60,  # the function's first call: its workers may still be importing
    )
    assert opted.status_code == 200, opted.text

    shown = requests.get(f"{runtime.api}/_local/console/sandboxes", timeout=10).text

    assert "/oauth2/token" in shown  # the token call is listed...
    assert "client_secret=(redacted)" in shown
    assert not leaks([shown])  # ...without the secret it carried
