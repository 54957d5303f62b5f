"""The TD postback sandbox answers a write key as each TD host does: the vendor document's host
refuses a wrong key with 403, the Postback v2 host answers 200 and drops the record. Spoken to
over HTTP, as the gateway's client and the local runtime's users speak to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devserver.aws_resources import SANDBOX_SECRETS
from devserver.vendors.td_postback import TdPostbackSandbox

LOCAL_KEY = SANDBOX_SECRETS["TreasureDataSecret"]["write_key"]


@pytest.fixture
def sandbox() -> Iterator[TdPostbackSandbox]:
    sandbox = TdPostbackSandbox().start()
    yield sandbox
    sandbox.stop()


def post(sandbox: TdPostbackSandbox, key: str | None, record: Any, table: str = "t") -> Any:
    headers = {"X-TD-Write-Key": key} if key else {}
    return requests.post(
        f"{sandbox.url}/postback/v3/event/db/{table}", json=record, headers=headers, timeout=5
    )


def control(sandbox: TdPostbackSandbox, route: str, body: Any) -> requests.Response:
    return requests.post(f"{sandbox.url}/_sandbox/{route}", json=body, timeout=5)


def summary(sandbox: TdPostbackSandbox) -> dict[str, Any]:
    answer: dict[str, Any] = requests.get(f"{sandbox.url}/_sandbox/received", timeout=5).json()
    return answer


def bodies(entries: list[dict[str, Any]]) -> list[Any]:
    return [e["body"] for e in entries]


def test_document_host_by_default_accepts_the_key_the_local_runtime_seeds(
    sandbox: TdPostbackSandbox,
) -> None:
    answer = post(sandbox, LOCAL_KEY, {"n": 1})

    assert (answer.status_code, answer.json()) == (200, {})
    assert summary(sandbox)["mode"] == "document"
    assert bodies(summary(sandbox)["received"]) == [{"n": 1}]


def test_document_host_refuses_a_wrong_key_with_403_and_stores_nothing(
    sandbox: TdPostbackSandbox,
) -> None:
    wrong, missing = post(sandbox, "not-the-key", {"n": 1}), post(sandbox, None, {"n": 2})

    assert (wrong.status_code, wrong.json()) == (403, {"error": "Forbidden"})
    assert missing.status_code == 403
    assert summary(sandbox)["received"] == []
    assert summary(sandbox)["dropped"] == []


def test_v2_host_answers_200_to_a_wrong_key_and_drops_the_record(
    sandbox: TdPostbackSandbox,
) -> None:
    assert control(sandbox, "mode", {"mode": "v2"}).json() == {"mode": "v2"}

    wrong, right = post(sandbox, "not-the-key", {"n": 1}), post(sandbox, LOCAL_KEY, {"n": 2})

    assert (wrong.status_code, wrong.json()) == (200, {})
    assert (right.status_code, right.json()) == (200, {})
    seen = summary(sandbox)
    assert seen["mode"] == "v2"
    assert bodies(seen["received"]) == [{"n": 2}]
    dropped = {"method": "POST", "path": "/postback/v3/event/db/t", "body": {"n": 1}}
    assert seen["dropped"] == [dropped]
    assert sandbox.records("db", "t") == [{"n": 2}]


def test_v2_host_still_refuses_a_malformed_request() -> None:
    sandbox = TdPostbackSandbox(mode="v2").start()
    try:
        answer = requests.post(
            f"{sandbox.url}/postback/v3/event/db/t",
            data="[1]",
            headers={"X-TD-Write-Key": "not-the-key", "Content-Type": "application/json"},
            timeout=5,
        )
        assert answer.status_code == 400
        assert summary(sandbox)["dropped"] == []
    finally:
        sandbox.stop()


@pytest.mark.parametrize(("mode", "old_key_status"), [("document", 403), ("v2", 200)])
def test_after_a_rotation_only_the_new_key_is_accepted(mode: str, old_key_status: int) -> None:
    sandbox = TdPostbackSandbox(mode=mode).start()
    try:
        assert control(sandbox, "keys", {"write_keys": ["new-key"]}).status_code == 200

        old = post(sandbox, LOCAL_KEY, {"key": "old"})
        new = post(sandbox, "new-key", {"key": "new"})

        assert (old.status_code, new.status_code) == (old_key_status, 200)
        assert sandbox.records("db", "t") == [{"key": "new"}]
        assert bodies(summary(sandbox)["dropped"]) == ([{"key": "old"}] if mode == "v2" else [])
    finally:
        sandbox.stop()


def test_several_keys_can_be_accepted_during_a_rotation(sandbox: TdPostbackSandbox) -> None:
    control(sandbox, "keys", {"write_keys": [LOCAL_KEY, "new-key"]}).raise_for_status()

    statuses = [post(sandbox, key, {"k": key}).status_code for key in (LOCAL_KEY, "new-key", "x")]

    assert statuses == [200, 200, 403]


def test_the_url_parameter_key_counts_and_the_header_wins(sandbox: TdPostbackSandbox) -> None:
    url = f"{sandbox.url}/postback/v3/event/db/t"

    by_query = requests.post(url, params={"td_write_key": LOCAL_KEY}, json={"n": 1}, timeout=5)
    header_wins = requests.post(
        url,
        params={"td_write_key": LOCAL_KEY},
        headers={"X-TD-Write-Key": "not-the-key"},
        json={"n": 2},
        timeout=5,
    )

    assert (by_query.status_code, header_wins.status_code) == (200, 403)


def test_control_never_echoes_a_key(sandbox: TdPostbackSandbox) -> None:
    answer = control(sandbox, "keys", {"write_keys": ["new-key"]})

    assert "new-key" not in answer.text
    assert "new-key" not in requests.get(f"{sandbox.url}/_sandbox/received", timeout=5).text


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("mode", {"mode": "v3"}),
        ("mode", {}),
        ("keys", {"write_keys": []}),
        ("keys", {"write_keys": "new-key"}),
        ("keys", {"write_keys": [""]}),
        ("keys", {"write_keys": [1]}),
    ],
)
def test_bad_control_input_is_a_400_and_changes_nothing(
    sandbox: TdPostbackSandbox, route: str, body: Any
) -> None:
    assert control(sandbox, route, body).status_code == 400

    assert summary(sandbox)["mode"] == "document"
    assert post(sandbox, LOCAL_KEY, {"n": 1}).status_code == 200


def test_reset_restores_the_mode_and_keys_it_was_created_with() -> None:
    sandbox = TdPostbackSandbox(write_key="created-key", mode="v2").start()
    try:
        control(sandbox, "mode", {"mode": "document"}).raise_for_status()
        control(sandbox, "keys", {"write_keys": ["other"]}).raise_for_status()
        post(sandbox, "created-key", {"n": 1})  # refused now

        requests.post(f"{sandbox.url}/_sandbox/reset", timeout=5).raise_for_status()

        assert summary(sandbox)["mode"] == "v2"
        assert post(sandbox, "created-key", {"n": 2}).status_code == 200
        assert post(sandbox, "other", {"n": 3}).status_code == 200  # dropped, v2 again
        assert bodies(summary(sandbox)["received"]) == [{"n": 2}]
        assert bodies(summary(sandbox)["dropped"]) == [{"n": 3}]
    finally:
        sandbox.stop()


def test_an_unknown_mode_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        TdPostbackSandbox(mode="records")


# --- the Data Ingestion API on the same host --------------------------------------------------


def ingest(sandbox: TdPostbackSandbox, key: str, body: Any, **headers: str) -> Any:
    return requests.post(
        f"{sandbox.url}/db/t",
        data=body if isinstance(body, bytes) else None,
        json=None if isinstance(body, bytes) else body,
        headers={
            "Authorization": f"TD1 {key}",
            "Content-Type": "application/vnd.treasuredata.v1+json",
            **headers,
        },
        timeout=5,
    )


def test_ingestion_api_stores_every_event_of_a_call(sandbox: TdPostbackSandbox) -> None:
    answer = ingest(sandbox, LOCAL_KEY, {"events": [{"n": 1}, {"n": 2}]})

    assert answer.status_code == 200
    assert sandbox.records("db", "t") == [{"n": 1}, {"n": 2}]


def test_ingestion_api_limits_and_media_type(sandbox: TdPostbackSandbox) -> None:
    assert ingest(sandbox, LOCAL_KEY, {"events": [{"n": i} for i in range(501)]}).status_code == 400
    assert ingest(sandbox, LOCAL_KEY, {"events": []}).status_code == 400
    assert ingest(sandbox, LOCAL_KEY, {"events": [1]}).status_code == 400
    big = {"events": [{"a": "x" * 1_048_064}]}
    assert ingest(sandbox, LOCAL_KEY, big).status_code == 413
    plain = ingest(sandbox, LOCAL_KEY, {"events": [{"n": 1}]}, **{"Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert sandbox.records("db", "t") == []


def test_ingestion_api_drops_a_wrong_key_behind_a_200(sandbox: TdPostbackSandbox) -> None:
    # The records.in host's rule in either mode: the document host's 403 is Postback's alone.
    answer = ingest(sandbox, "not-the-key", {"events": [{"n": 1}]})

    assert answer.status_code == 200
    assert sandbox.records("db", "t") == []
    assert [d["path"] for d in summary(sandbox)["dropped"]] == ["/db/t"]
