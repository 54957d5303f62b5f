"""Body parsing: size first, then JSON, with a stable code for each refusal."""

from __future__ import annotations

import pytest

from gateway.core.errors import InvalidRequest, PayloadTooLarge
from gateway.core.json_body import parse_json, parse_json_object


def test_surrogate_pairs_are_text() -> None:
    assert parse_json(rb'{"a": "\ud83d\ude80"}', max_bytes=100) == {"a": "🚀"}


@pytest.mark.parametrize(
    "raw", [rb'{"a": "\udad7x"}', rb'{"\udc00": 1}', rb'["ok", "\ud83d"]', rb'"\uDE80"']
)
def test_unpaired_surrogates_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_json(raw, max_bytes=100)
    assert refused.value.code == "INVALID_JSON"


@pytest.mark.parametrize(
    ("raw", "code"),
    [(b"", "EMPTY_BODY"), (b"  ", "EMPTY_BODY"), (b"{", "INVALID_JSON"), (b"\xff", "INVALID_JSON"),
     (b"[" * 100_000 + b"]" * 100_000, "INVALID_JSON"), (b"[1]", "BODY_NOT_OBJECT")],
)  # fmt: skip
def test_refusals_have_stable_codes(raw: bytes, code: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_json_object(raw, max_bytes=1_000_000)
    assert refused.value.code == code


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_json(b"{" * 101, max_bytes=100)
