"""RichRelevanceFunction's content routes against moto and the RichRelevance sandbox:
validation before any call, chunking, partial failures, and replay of queued chunks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devserver.vendors.richrelevance import CONTENT_PREFIX, INVALID_TOKEN, RichRelevanceSandbox
from gateway.core.envelope import Envelope, LastError
from tests.integration.conftest import Gateway
from tests.integration.log_capture import captured_logs
from tests.integration.rr_support import content, item, peek, problem


def test_put_stores_items_and_answers_the_tracking_id(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    items = [
        item(1, tags=["fall", "fashion"], rating=4.0, start_date="2016-08-28"),
        item(2, end_date="2016-11-28", click_thru=["https://site/2"]),
    ]

    response = content(gateway, "PUT", items)

    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["trackingIds"] == rr_sandbox.tracking_ids
    assert body["chunks"] == [
        {
            "chunk": 0,
            "firstItem": 0,
            "itemCount": 2,
            "status": "accepted",
            "trackingId": rr_sandbox.tracking_ids[0],
        }
    ]
    assert rr_sandbox.catalog == {"c-1": items[0], "c-2": items[1]}
    [call] = rr_sandbox.api_requests(CONTENT_PREFIX)
    assert (call.method, call.path) == ("PUT", CONTENT_PREFIX)
    assert (call.header("Authorization") or "").startswith("Bearer rrsbx_")
    assert call.json() == items


def test_patch_changes_only_the_given_properties(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    assert content(gateway, "PUT", [item(1, rating=3)])["statusCode"] == 200

    response = content(gateway, "PATCH", [{"id": "c-1", "rating": "3.4", "tags": ["sale"]}])

    assert response["statusCode"] == 200
    assert rr_sandbox.catalog["c-1"] == {**item(1), "rating": 3.4, "tags": ["sale"]}
    assert rr_sandbox.api_requests(CONTENT_PREFIX)[-1].json() == [
        {"id": "c-1", "tags": ["sale"], "rating": 3.4}
    ]


def test_tags_are_trimmed_at_100_characters(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    assert (
        content(gateway, "PATCH", [{"id": "c-1", "tags": ["x" * 150, "ok"]}])["statusCode"] == 200
    )

    assert rr_sandbox.catalog["c-1"]["tags"] == ["x" * 100, "ok"]


@pytest.mark.parametrize(
    ("method", "items", "errors"),
    [
        ("PUT", [{"name": "no id", "image_url": ["u"]}], [("/0/id", 0)]),
        ("PUT", [item(1), {"id": "x" * 101, "image_url": ["u"]}], [("/1/id", 1)]),
        ("PATCH", [{"id": "a/b"}], [("/0/id", 0)]),
        ("PATCH", [{"id": "1", "name": "n" * 256}], [("/0/name", 0)]),
        ("PATCH", [{"id": "1", "rating": "high"}], [("/0/rating", 0)]),
        ("PATCH", [{"id": "1", "rating": True}], [("/0/rating", 0)]),
        ("PATCH", [{"id": "1", "start_date": "2016/08/28"}], [("/0/start_date", 0)]),
        ("PATCH", [{"id": "1", "end_date": "2016-02-30"}], [("/0/end_date", 0)]),
        ("PATCH", [{"id": "1", "image_url": "not-an-array"}], [("/0/image_url", 0)]),
        ("PATCH", [{"id": "1", "tags": [1]}], [("/0/tags/0", 0)]),
        ("PUT", [{"id": "1", "name": "no attribute"}], [("/0", 0)]),
        ("PATCH", [{"id": 1}, "text"], [("/0/id", 0), ("/1", 1)]),
    ],
)
def test_invalid_items_are_422_with_every_index_and_no_call(
    gateway: Gateway,
    rr_sandbox: RichRelevanceSandbox,
    method: str,
    items: list[Any],
    errors: list[tuple[str, int]],
) -> None:
    response = content(gateway, method, items)

    assert response["statusCode"] == 422
    found = problem(response)
    assert found["code"] == "INVALID_CONTENT_ITEMS"
    assert [(e["pointer"], e["index"]) for e in found["errors"]] == errors
    assert rr_sandbox.requests == []


def test_every_bad_item_of_a_large_array_is_reported(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    items = [item(n) for n in range(250)]
    items[3]["id"] = "a/b"
    items[120].pop("id")
    items[249]["start_date"] = "tomorrow"

    response = content(gateway, "PUT", items)

    assert response["statusCode"] == 422
    assert [e["index"] for e in problem(response)["errors"]] == [3, 120, 249]
    assert rr_sandbox.requests == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"id": "1"}, 400, "BODY_NOT_ARRAY"),
        ("[", 400, "INVALID_JSON"),
        ([], 422, "INVALID_CONTENT_ITEMS"),
    ],
)
def test_body_must_be_a_non_empty_array(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, body: Any, status: int, code: str
) -> None:
    response = content(gateway, "PATCH", body)

    assert response["statusCode"] == status
    assert problem(response)["code"] == code
    assert rr_sandbox.requests == []


def test_large_arrays_go_out_in_chunks(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_CONTENT_CHUNK_SIZE", "2")
    items = [item(n) for n in range(5)]

    response = content(gateway, "PUT", items)

    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    calls = rr_sandbox.api_requests(CONTENT_PREFIX)
    assert [c.json() for c in calls] == [items[0:2], items[2:4], items[4:5]]
    assert body["trackingIds"] == rr_sandbox.tracking_ids
    assert len(set(body["trackingIds"])) == 3
    assert [(c["chunk"], c["firstItem"], c["itemCount"]) for c in body["chunks"]] == [
        (0, 0, 2),
        (1, 2, 2),
        (2, 4, 1),
    ]
    assert len(rr_sandbox.token_requests(CONTENT_PREFIX)) == 1


def test_retryable_failure_queues_one_envelope_per_chunk(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_CONTENT_CHUNK_SIZE", "2")
    rr_sandbox.add_fault(status=503, count=1, path=CONTENT_PREFIX, method="PATCH")
    items = [item(n) for n in range(3)]

    response = content(gateway, "PATCH", items)

    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["status"] == "queued"
    assert body["trackingIds"] == []
    envelopes = sorted(peek(gateway), key=lambda e: e["request"]["chunk"])
    assert [e["id"] for e in envelopes] == body["retryIds"]
    assert body["retryId"] == body["retryIds"][0]
    assert {e["kind"] for e in envelopes} == {"rr.content"}
    assert [e["request"]["items"] for e in envelopes] == [items[0:2], items[2:3]]
    assert len(rr_sandbox.api_requests(CONTENT_PREFIX)) == 1  # later chunks were not tried

    with captured_logs() as logs:
        gateway.drain()

    assert sorted(rr_sandbox.catalog) == ["c-0", "c-1", "c-2"]
    assert len(rr_sandbox.tracking_ids) == 2
    # No caller waits for a replay's answer: its log line keeps RichRelevance's reference.
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    delivered = [line for line in lines if line.get("message") == "retry delivered"]
    assert sorted(d["chunk"] for d in delivered) == [e["request"]["chunk"] for e in envelopes]
    assert sorted(d["tracking_id"] for d in delivered) == sorted(rr_sandbox.tracking_ids)


def test_partial_failure_queues_only_the_unsent_chunks(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_CONTENT_CHUNK_SIZE", "2")
    rr_sandbox.add_fault(status=502, count=1, skip=1, path=CONTENT_PREFIX, method="PUT")
    items = [item(n) for n in range(6)]

    response = content(gateway, "PUT", items)

    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert [c["status"] for c in body["chunks"]] == ["accepted", "queued", "queued"]
    assert body["trackingIds"] == rr_sandbox.tracking_ids
    assert len(body["trackingIds"]) == 1
    queued = sorted(peek(gateway), key=lambda e: e["request"]["chunk"])
    assert [e["request"]["items"] for e in queued] == [items[2:4], items[4:6]]
    assert [e["request"]["first_item"] for e in queued] == [2, 4]

    gateway.drain()

    accepted = [c.json() for c in rr_sandbox.received if c.path == CONTENT_PREFIX]
    assert sorted(json.dumps(chunk) for chunk in accepted) == sorted(
        json.dumps(items[n : n + 2]) for n in (0, 2, 4)
    )  # every chunk accepted exactly once
    assert sorted(rr_sandbox.catalog) == [f"c-{n}" for n in range(6)]


def test_429_on_a_later_chunk_queues_the_rest_instead_of_answering_429(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_CONTENT_CHUNK_SIZE", "1")
    rr_sandbox.add_fault(status=429, count=1, skip=1, path=CONTENT_PREFIX, method="PATCH")

    response = content(gateway, "PATCH", [{"id": "a"}, {"id": "b"}])

    assert response["statusCode"] == 202
    assert [c["status"] for c in json.loads(response["body"])["chunks"]] == [
        "accepted",
        "queued",
    ]


def test_429_on_the_first_chunk_is_429(gateway: Gateway, rr_sandbox: RichRelevanceSandbox) -> None:
    rr_sandbox.add_fault(
        status=429, count=1, path=CONTENT_PREFIX, method="PATCH", headers={"Retry-After": "3"}
    )

    response = content(gateway, "PATCH", [{"id": "a"}])

    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "3"
    assert gateway.queue_depth("RetryQueue") == 0


def test_vendor_400_on_a_later_chunk_reports_what_was_accepted(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_CONTENT_CHUNK_SIZE", "1")
    bad_request = {"code": 400, "details": "{}", "message": "Bad Request", "status": "error"}
    rr_sandbox.add_fault(
        status=400, count=1, skip=1, path=CONTENT_PREFIX, method="PATCH", body=bad_request
    )

    response = content(gateway, "PATCH", [{"id": "a"}, {"id": "b"}, {"id": "c"}])

    assert response["statusCode"] == 400
    found = problem(response)
    assert found["code"] == "UPSTREAM_REJECTED"
    assert "Bad Request" in found["detail"]
    assert [(e["chunk"], e["status"]) for e in found["errors"]] == [
        (0, "accepted"),
        (1, "failed"),
        (2, "not_sent"),
    ]
    assert found["errors"][0]["trackingId"] == rr_sandbox.tracking_ids[0]
    assert gateway.queue_depth("RetryQueue") == 0


def test_refused_credentials_park_every_unsent_chunk(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_CONTENT_CHUNK_SIZE", "1")
    rr_sandbox.add_fault(
        status=401, skip=1, path=CONTENT_PREFIX, method="PATCH", body=INVALID_TOKEN
    )

    response = content(gateway, "PATCH", [{"id": "a"}, {"id": "b"}, {"id": "c"}])

    assert response["statusCode"] == 502
    found = problem(response)
    assert found["code"] == "UPSTREAM_AUTH"
    assert [e["status"] for e in found["errors"]] == ["accepted", "parked", "parked"]
    parked = gateway.envelopes("DeadLetterQueue")
    assert sorted(e["request"]["items"][0]["id"] for e in parked) == ["b", "c"]
    assert gateway.queue_depth("RetryQueue") == 0


def test_queue_unreachable_after_a_partial_success_is_503_with_the_chunks(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_CONTENT_CHUNK_SIZE", "1")
    monkeypatch.setenv("RETRY_QUEUE_URL", gateway.refs["RetryQueue"] + "-does-not-exist")
    rr_sandbox.add_fault(status=503, skip=1, path=CONTENT_PREFIX, method="PATCH")

    response = content(gateway, "PATCH", [{"id": "a"}, {"id": "b"}])

    assert response["statusCode"] == 503
    found = problem(response)
    assert found["code"] == "RETRY_QUEUE_UNAVAILABLE"
    assert [e["status"] for e in found["errors"]] == ["accepted", "not_queued"]


def test_vendor_errors_on_replay_follow_the_rules(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=500, count=1, path=CONTENT_PREFIX, method="PATCH")
    assert content(gateway, "PATCH", [{"id": "a"}])["statusCode"] == 202
    bad_request = {"code": 400, "details": "{}", "message": "Bad Request", "status": "error"}
    rr_sandbox.add_fault(status=400, count=1, path=CONTENT_PREFIX, method="PATCH", body=bad_request)

    gateway.drain()

    # RetryFunction's execution environment fetched a token of its own, then the 400 parked it.
    [parked] = gateway.messages("DeadLetterQueue")
    assert parked["MessageAttributes"]["reason"]["StringValue"].startswith("permanent failure")
    assert json.loads(parked["Body"])["lastError"]["status"] == 400
    assert len(rr_sandbox.token_requests(CONTENT_PREFIX)) == 2


def test_envelope_with_an_invalid_item_is_parked_without_a_call(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    body = Envelope(
        kind="rr.content",
        request={"method": "PUT", "items": [{"id": "a/b", "image_url": ["u"]}]},
        lastError=LastError(status=503, detail="test"),
    ).to_json()
    gateway.sqs.send_message(QueueUrl=gateway.refs["RetryQueue"], MessageBody=body)

    gateway.drain()

    [parked] = gateway.messages("DeadLetterQueue")
    assert parked["MessageAttributes"]["reason"]["StringValue"].startswith("malformed envelope")
    assert rr_sandbox.requests == []
