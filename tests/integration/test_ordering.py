"""Last accepted write wins, per opt-out user and per content item id: a replay overtaken by a
later accepted write for the same key is acknowledged without a vendor call. Reproduces the
inversion: `true` queued (202), then `false` delivered (200), then the replay of `true` landed
last and RichRelevance recorded the opposite of the user's last choice."""

from __future__ import annotations

import json
from typing import Any

from devserver.vendors.richrelevance import CONTENT_PREFIX, PROFILE_PREFIX, RichRelevanceSandbox
from tests.integration.conftest import Gateway
from tests.integration.rr_support import content, item, opt_out


def delivery_state_calls(gateway: Gateway) -> list[tuple[str, str]]:
    """The RetryFunction's calls to DeliveryStateTable from now on: (operation, key kind)."""
    calls: list[tuple[str, str]] = []
    table = gateway.refs["DeliveryStateTable"]

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("TableName") == table:
            calls.append((model.name, params["Key"]["pk"]["S"].split("#")[0] + "#"))
        elif table in params.get("RequestItems", {}):
            keys = params["RequestItems"][table].get("Keys", [{"pk": {"S": "put#"}}])
            calls.append((model.name, keys[0]["pk"]["S"].split("#")[0] + "#"))

    context = gateway.context("RetryFunction")
    context.boto3_session.events.register("provide-client-params.dynamodb", record)
    return calls


def opt_out_choices(rr: RichRelevanceSandbox, user_id: str) -> list[bool]:
    """What RichRelevance accepted for the user, in the order it arrived."""
    return [
        json.loads(r.body)["enableOptOut"]
        for r in rr.received
        if r.path == f"{PROFILE_PREFIX}/optOut/{user_id}"
    ]


def test_a_queued_opt_out_overtaken_by_a_later_choice_is_not_replayed(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=503, count=1, path=f"{PROFILE_PREFIX}/optOut")
    assert opt_out(gateway, "u-order", {"enableOptOut": True})["statusCode"] == 202
    assert opt_out(gateway, "u-order", {"enableOptOut": False})["statusCode"] == 200

    gateway.drain()

    assert opt_out_choices(rr_sandbox, "u-order") == [False]  # the user's last choice stands
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_a_queued_opt_out_not_overtaken_is_replayed(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=503, count=1, path=f"{PROFILE_PREFIX}/optOut")
    assert opt_out(gateway, "u-a", {"enableOptOut": True})["statusCode"] == 202
    assert opt_out(gateway, "u-b", {"enableOptOut": False})["statusCode"] == 200  # another user

    gateway.drain()

    assert opt_out_choices(rr_sandbox, "u-a") == [True]
    assert opt_out_choices(rr_sandbox, "u-b") == [False]


def test_two_queued_choices_replay_only_the_last(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=503, count=2, path=f"{PROFILE_PREFIX}/optOut")
    assert opt_out(gateway, "u-twice", {"enableOptOut": True})["statusCode"] == 202
    assert opt_out(gateway, "u-twice", {"enableOptOut": False})["statusCode"] == 202

    gateway.drain()

    assert opt_out_choices(rr_sandbox, "u-twice") == [False]


def test_a_content_replay_leaves_out_the_items_a_later_write_overtook(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=503, count=1, path=CONTENT_PREFIX, method="PUT")
    first = content(gateway, "PUT", [item(1, name="old one"), item(2, name="old two")])
    assert first["statusCode"] == 202
    assert content(gateway, "PUT", [item(1, name="new one")])["statusCode"] == 200

    gateway.drain()

    sent = [json.loads(r.body) for r in rr_sandbox.received if r.path == CONTENT_PREFIX]
    # The later write of item 1, then the replay with item 2 only: item 1 keeps its new name.
    assert [[i["name"] for i in body] for body in sent] == [["new one"], ["old two"]]


def test_a_batch_reads_the_ordering_state_of_all_its_envelopes_at_once(
    gateway: Gateway, rr_sandbox: RichRelevanceSandbox
) -> None:
    rr_sandbox.add_fault(status=503, count=6, path=f"{PROFILE_PREFIX}/optOut")
    users = [f"u-batch-{n}" for n in range(5)]
    for user in users:
        assert opt_out(gateway, user, {"enableOptOut": True})["statusCode"] == 202
    assert opt_out(gateway, users[0], {"enableOptOut": True})["statusCode"] == 202  # twice
    assert opt_out(gateway, users[1], {"enableOptOut": False})["statusCode"] == 200  # overtakes
    calls = delivery_state_calls(gateway)
    gateway.drain()

    # One ordering read for the batch, none per envelope; one circuit read for the batch's
    # threads; what was read still decides each replay.
    assert calls.count(("BatchGetItem", "order#")) == 1
    assert ("GetItem", "order#") not in calls
    assert calls.count(("GetItem", "circuit#")) == 1
    assert opt_out_choices(rr_sandbox, users[1]) == [False]  # the queued `true` superseded
    assert opt_out_choices(rr_sandbox, users[0]) == [True]  # once per envelope, both replayed
    for user in users[2:]:
        assert opt_out_choices(rr_sandbox, user) == [True]


def test_an_earlier_writes_record_landing_last_does_not_lower_a_later_ones(
    gateway: Gateway,
) -> None:
    """Two writes of the same content items in flight at once: the later one (sequence 2,000)
    records first, the earlier one (1,000) after it, as when its vendor call took longer. The
    keys must keep 2,000, else a replay stamped between the two (1,500) would not count as
    overtaken and would undo the later write at the vendor. The content chunk's records were
    unconditional batched puts and fell back to 1,000; an opt-out's one key never did."""
    state = gateway.context("RichRelevanceFunction").delivery_state
    state.accept("rr.content", ["race-a"], 3_000)  # one key already past both writes
    state.accept("rr.content", ["race-a", "race-b", "race-c"], 2_000)
    state.accept("rr.content", ["race-a", "race-b", "race-c"], 1_000)

    assert state.overtaken("rr.content", ["race-a", "race-b", "race-c"], 1_500) == {
        "race-a",
        "race-b",
        "race-c",
    }
    assert state.overtaken("rr.content", ["race-a", "race-b", "race-c"], 2_500) == {"race-a"}


def test_a_content_chunks_order_is_one_aws_call_for_up_to_100_items(gateway: Gateway) -> None:
    context = gateway.context("RichRelevanceFunction")
    state = context.delivery_state
    calls: list[str] = []
    context.boto3_session.events.register(
        "provide-client-params.dynamodb", lambda model, **_: calls.append(model.name)
    )
    state.accept("rr.content", [f"item-{n}" for n in range(100)], 5_000)
    state.accept("rr.content", [f"item-{n}" for n in range(101)], 6_000)

    assert len(calls) == 3  # 100 items, then 100 and 1
    assert state.overtaken("rr.content", [f"item-{n}" for n in range(101)], 5_500) == {
        f"item-{n}" for n in range(101)
    }
