"""The last accepted write wins under faults: 50 users each send 9 to 11 opt-out choices,
alternating true/false, interleaved with the other users' (and 50 content items each PUT 9 to
11 times with alternating names), while the vendor fails in the fault suite's random mix, so
that some choices are delivered at once, some queued and replayed, some refused (429). After the
drain, RichRelevance's state for each user (each item) must be the last write the gateway
accepted (200/202) for it: 0 order inversions."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from devserver.vendors.richrelevance import PROFILE_PREFIX
from tests.integration.conftest import Gateway
from tests.integration.fault_support import FAULT_MIX, add_faults, metric_total, wait_for
from tests.integration.rr_support import content, item, opt_out

KEYS = 50
WRITES_PER_KEY = (9, 10, 11)


@dataclass(frozen=True)
class OrderedKind:
    name: str
    send: Callable[[Gateway, str, int], int]  # key, write number -> status
    state: Callable[[Gateway, str], Any]  # what the vendor holds for the key now
    value: Callable[[int], Any]  # what write number k leaves at the vendor


def _choice(k: int) -> bool:
    return k % 2 == 0


def _opt_out(gateway: Gateway, user: str, k: int) -> int:
    status: int = opt_out(gateway, user, {"enableOptOut": _choice(k)})["statusCode"]
    return status


def _content_put(gateway: Gateway, item_id: str, k: int) -> int:
    status: int = content(gateway, "PUT", [{**item(0), "id": item_id, "name": f"name {k}"}])[
        "statusCode"
    ]
    return status


KINDS = [
    OrderedKind("rr.opt_out", _opt_out, lambda g, key: g.rr.opted_out.get(key), _choice),
    OrderedKind(
        "rr.content",
        _content_put,
        lambda g, key: g.rr.catalog.get(key, {}).get("name"),
        lambda k: f"name {k}",
    ),
]


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_TIMEOUT_SECONDS", "0.3")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_last_accepted_write_wins_under_faults(
    gateway: Gateway, short_timeout: None, kind: OrderedKind, capsys: pytest.CaptureFixture[str]
) -> None:
    add_faults(gateway.rr, FAULT_MIX, seed=0)
    rng = random.Random(16)
    # Each key starts on its own side (k + offset), so that the last choices differ.
    plan = {f"{kind.name}-{key}": (key % 2, rng.choice(WRITES_PER_KEY)) for key in range(KEYS)}
    statuses: dict[str, list[int]] = {key: [] for key in plan}
    last_accepted: dict[str, int] = {}
    for round_ in range(max(count for _, count in plan.values())):
        for key, (offset, count) in plan.items():
            if round_ >= count:
                continue
            k = round_ + offset
            status = kind.send(gateway, key, k)
            statuses[key].append(status)
            if status in (200, 202):
                last_accepted[key] = k
        # A key's next write goes out once the vendor is done with this round's calls (a late
        # accept landing after a later write would be the vendor's reordering, not ours).
        wait_for(lambda: gateway.rr.in_flight == 0, "the round's vendor calls to end")

    gateway.rr.clear_faults()
    gateway.drain()

    everything = [s for per_key in statuses.values() for s in per_key]
    assert set(everything) <= {200, 202, 429}, set(everything)
    inversions = {
        key: (kind.state(gateway, key), kind.value(k))
        for key, k in last_accepted.items()
        if kind.state(gateway, key) != kind.value(k)
    }
    after_refusal = {key for key in inversions if statuses[key][-1] == 429}
    superseded = metric_total(capsys.readouterr().out, "Superseded")
    with capsys.disabled():
        print(
            f"\n{kind.name}: {len(plan)} keys, {len(everything)} writes "
            f"({everything.count(200)} x 200, {everything.count(202)} x 202 queued, "
            f"{everything.count(429)} x 429); {superseded:.0f} replays superseded; "
            f"order inversions {len(inversions)} ({len(after_refusal)} after a refused write)"
        )
    assert everything.count(202), "the mix queued nothing"
    assert everything.count(429), "the mix refused nothing"
    assert superseded, "no replay was overtaken: the ordering was not exercised"
    assert not inversions, f"the vendor's last state is not the last accepted write: {inversions}"
    assert gateway.queue_depth("DeadLetterQueue") == 0


def test_a_refused_write_does_not_overtake_an_accepted_one(gateway: Gateway) -> None:
    gateway.rr.add_fault(status=503, count=1, path=f"{PROFILE_PREFIX}/optOut")
    assert opt_out(gateway, "u-refused", {"enableOptOut": True})["statusCode"] == 202
    gateway.rr.add_fault(
        status=429, count=1, path=f"{PROFILE_PREFIX}/optOut", headers={"Retry-After": "1"}
    )
    assert opt_out(gateway, "u-refused", {"enableOptOut": False})["statusCode"] == 429  # refused

    gateway.drain()

    # The user's last accepted choice is `true`: the 429 told the caller nothing was taken.
    assert gateway.rr.opted_out.get("u-refused") is True
