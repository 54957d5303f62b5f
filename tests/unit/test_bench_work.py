"""What the benchmarks record of an invocation's AWS calls replays as the same call: a blob
(the experience cache's compressed body, written on a cache miss) included."""

from __future__ import annotations

import zlib

from benchmarks.work import _copy
from benchmarks.work_floor import _blobs


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
