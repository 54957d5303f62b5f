"""The local runtime (`make run`), over HTTP only, as a user would drive it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from devserver.template import Template
from tests.conftest import EVENTS
from tests.e2e.conftest import Runtime, eventually, start_runtime, stop_runtime
from tests.support.records import untimed


def post_record(runtime: Runtime, table: str, record: dict[str, Any]) -> requests.Response:
    return requests.post(f"{runtime.api}/v1/postback/web_events/{table}", json=record, timeout=15)


def records_at_td(runtime: Runtime, table: str) -> list[dict[str, Any]]:
    path = f"/postback/v3/event/web_events/{table}"
    return [r["body"] for r in runtime.received("td-postback") if r["path"] == path]


def test_posted_record_is_found_at_the_td_sandbox(runtime: Runtime) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    response = post_record(runtime, table, {"user_id": "e2e-1"})

    assert response.status_code == 200
    assert untimed(records_at_td(runtime, table)) == [{"user_id": "e2e-1"}]


def test_injected_503s_are_queued_then_delivered_by_the_poller(runtime: Runtime) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    # No count: the poller replays the first envelopes while later ones are still being posted.
    runtime.fault("td-postback", status=503, path=f"/postback/v3/event/web_events/{table}")

    statuses = [post_record(runtime, table, {"seq": n}).status_code for n in range(5)]

    assert statuses == [202] * 5
    assert records_at_td(runtime, table) == []
    runtime.clear_faults("td-postback")  # the vendor recovers
    delivered = eventually(lambda: len(records_at_td(runtime, table)) == 5)
    assert delivered, records_at_td(runtime, table)
    assert sorted(r["seq"] for r in records_at_td(runtime, table)) == list(range(5))


def test_record_that_exhausts_its_retries_is_on_the_dlq(runtime: Runtime) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    path = f"/postback/v3/event/web_events/{table}"
    runtime.fault("td-postback", status=503, path=path)  # this table never recovers

    response = post_record(runtime, table, {"user_id": "doomed"})
    assert response.status_code == 202
    retry_id = response.json()["retryId"]

    def parked() -> list[dict[str, Any]]:
        return [m for m in runtime.dead_letters() if retry_id in m["body"]]

    found = eventually(parked, within=60)
    assert found, "the envelope should reach the DLQ after RETRY_MAX_RECEIVES"
    assert untimed([json.loads(found[0]["body"])["request"]["record"]]) == [{"user_id": "doomed"}]
    assert found[0]["reason"].startswith("retries exhausted")
    assert records_at_td(runtime, table) == []


def test_richrelevance_opt_out_queued_on_503_is_delivered_by_the_poller(runtime: Runtime) -> None:
    user = quote(f"e2e {uuid.uuid4().hex[:8]}/x", safe="")  # encoded once, on either side
    path = f"/profile-command/v1/optOut/{user}"
    runtime.fault("richrelevance", status=503, count=1, path=path)

    response = requests.put(
        f"{runtime.api}/v1/richrelevance/users/{user}/opt-out",
        json={"enableOptOut": True},
        timeout=15,
    )

    assert response.status_code == 202, response.text

    def delivered() -> list[dict[str, Any]]:
        return [r for r in runtime.received("richrelevance") if r["path"] == path]

    found = eventually(delivered)
    assert found, "the poller should replay the queued opt-out"
    assert found[0]["body"] == {"type": "optOut", "enableOptOut": True}


def _accepted_events() -> list[Path]:
    return sorted(EVENTS.glob("*-accepted.json"))


def test_every_route_has_an_accepted_example() -> None:
    keys = {json.loads(p.read_text())["routeKey"] for p in _accepted_events()}
    routes = {f"{r.method} {r.path}" for fn in Template().functions() for r in fn.routes}
    assert routes <= keys


@pytest.mark.parametrize("event_file", _accepted_events(), ids=lambda p: p.stem)
def test_every_route_answers_its_example(runtime: Runtime, event_file: Path) -> None:
    event = json.loads(event_file.read_text())
    method = event["requestContext"]["http"]["method"]

    response = requests.request(
        method,
        runtime.api + event["rawPath"],
        data=event.get("body"),
        headers={"content-type": "application/json"},
        timeout=15,
    )

    assert response.status_code in (200, 204), response.text


def test_rokt_experience_is_cached_in_dynamodb(runtime: Runtime) -> None:
    body = json.loads(json.loads((EVENTS / "rokt-experiences-accepted.json").read_text())["body"])
    body["cacheKey"]["transactionId"] = f"txn-{uuid.uuid4().hex[:8]}"

    def fetch() -> requests.Response:
        return requests.post(f"{runtime.api}/v1/rokt/experiences", json=body, timeout=15)

    first, second = fetch(), fetch()

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["x-gateway-cache"] == "miss"
    assert second.headers["x-gateway-cache"] == "hit"
    assert second.json() == first.json()
    assert second.headers["rokt-session-id"] == first.headers["rokt-session-id"]


def test_bad_input_is_a_problem_over_http(runtime: Runtime) -> None:
    response = requests.post(
        f"{runtime.api}/v1/postback/web_events/bad-table",
        data="{",
        headers={"content-type": "application/json"},
        timeout=15,
    )

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "INVALID_TABLE_NAME"


def test_unknown_route_is_404(runtime: Runtime) -> None:
    assert requests.get(f"{runtime.api}/v1/nothing", timeout=5).status_code == 404


def test_cors_preflight_for_an_allowed_origin(runtime: Runtime) -> None:
    origin = Template().parameters["CorsAllowOrigins"].split(",")[0]
    response = requests.options(
        f"{runtime.api}/v1/postback/web_events/t",
        timeout=5,
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == origin


def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    rt = start_runtime(tmp_path, "--quiet")
    try:
        posted = requests.post(f"{rt.api}/v1/postback/web_events/t", json={"a": 1}, timeout=15)
    finally:  # stopped however the request went: a failing test leaves nothing running
        code = stop_runtime(rt)
    assert posted.ok
    assert code == 0
    assert "stopped." in rt.log.read_text()
    assert not (tmp_path / "state.json").exists()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{rt.api}/_local/status", timeout=2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{rt.sandbox('td-postback')}/_sandbox/received", timeout=2)


def test_personalization_event_reaches_the_td_p13n_sandbox(runtime: Runtime) -> None:
    table = f"t_{uuid.uuid4().hex[:8]}"
    response = requests.post(
        f"{runtime.api}/v1/personalization/web_p13n/{table}", json={"td_client_id": "c"}, timeout=15
    )

    assert response.status_code == 204
    [event] = [r["body"] for r in runtime.received("td-p13n") if r["path"] == f"/web_p13n/{table}"]
    assert event["td_client_id"] == "c"
    assert event["uuid"]
