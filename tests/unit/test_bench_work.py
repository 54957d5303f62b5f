"""What the benchmarks record of an invocation's AWS calls replays as the same call: a blob
(the experience cache's compressed body, written on a cache miss) included."""

from __future__ import annotations

import zlib
from typing import Any

from benchmarks.work import _copy
from benchmarks.work_floor import _aws_step, _blobs


def test_recorded_params_with_a_blob_replay_as_they_were_sent() -> None:
    params = {
        "TableName": "ExperienceCache",
        "Item": {
            "cacheKey": {"S": "k"},
            "expiresAt": {"N": "1764000000"},
            "body": {"B": zlib.compress(b'{"experiences": []}')},
        },
    }
    recorded = _copy(params)

    assert recorded["Item"]["body"]["B"] != params["Item"]["body"]["B"]  # JSON, not bytes
    assert _blobs(recorded) == params


def test_a_replayed_ordering_record_carries_a_new_sequence_each_time() -> None:
    """Replayed as recorded, its condition (a later sequence) would fail where the handler's
    held: the direct call would measure a cancelled write against the handler's real one."""
    update = {
        "TableName": "DeliveryState",
        "Key": {"pk": {"S": "order#rr.content#a"}},
        "ConditionExpression": "attribute_not_exists(seq) OR seq < :seq",
        "ExpressionAttributeValues": {":seq": {"N": "1000"}, ":expires": {"N": "1764000000"}},
    }
    sent: list[list[str]] = []

    def transact_write_items(**params: Any) -> None:
        sent.append(
            [a["Update"]["ExpressionAttributeValues"][":seq"]["N"] for a in params["TransactItems"]]
        )

    step = _aws_step(
        transact_write_items, {"TransactItems": [{"Update": update}, {"Update": update}]}
    )
    step()
    step()

    first, second = sent
    assert int(first[0]) > 1000
    assert first[0] == first[1]  # one write, one sequence for all its keys
    assert int(second[0]) > int(first[0])
