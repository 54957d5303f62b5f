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


def _refusal(raw: bytes) -> dict[str, object]:
    with pytest.raises(InvalidRequest) as refused:
        parse_json(raw, max_bytes=2_000_000)
    assert refused.value.code == "INVALID_JSON"
    [entry] = refused.value.errors
    return entry


def _nested(levels: int) -> bytes:
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


def test_sixty_four_levels_are_accepted() -> None:
    value = parse_json(_nested(64), max_bytes=10_000)
    for _ in range(63):
        value = value["a"]
    assert value == {}


@pytest.mark.parametrize("levels", [65, 199, 254, 255, 900])
def test_deeper_nesting_is_refused_with_a_pointer(levels: int) -> None:
    # Was accepted up to 254 levels, then unreplayable (or a 500 from 255 on).
    entry = _refusal(_nested(levels))
    assert entry["pointer"] == "/a" * 64


def test_nesting_too_deep_to_parse_is_refused_with_its_position() -> None:
    entry = _refusal(b'["[", ' + b"[" * 5000 + b"]" * 5000 + b"]")
    assert entry["position"] == 6 + 63  # the 65th bracket; the one in a string does not count


def test_an_integer_beyond_the_digit_limit_is_refused_where_it_is() -> None:
    # Was a 500 (ValueError from int()) on every route.
    entry = _refusal(b'{"order": {"items": [1, ' + b"9" * 5000 + b"]}}")
    assert entry["pointer"] == "/order/items/1"
    assert "digits" in str(entry["detail"])


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [(b'{"a": NaN}', "/a"), (b'{"a": [Infinity]}', "/a/0"), (b'{"a": -Infinity}', "/a"),
     (b'{"b": 1e999}', "/b"), (b"[-1e400]", "/0")],
)  # fmt: skip
def test_non_finite_numbers_are_refused(raw: bytes, pointer: str) -> None:
    # Were sent on to TD as the non-JSON literals NaN/Infinity (or as null after a replay).
    assert _refusal(raw)["pointer"] == pointer


@pytest.mark.parametrize("raw", [b'{"a":"\xed\xa0\x80"}', b'{"a":"\xed\xbf\xbf"}', b'{"\xc3":1}'])
def test_bytes_that_are_not_utf8_are_refused(raw: bytes) -> None:
    # Surrogate bytes were decoded with surrogatepass, then failed at the vendor call (500).
    assert "position" in _refusal(raw)


def test_no_refusal_quotes_the_body() -> None:
    secret_looking = b'{"card": "4111-1111", "n": ' + b"7" * 5000 + b"}"
    with pytest.raises(InvalidRequest) as refused:
        parse_json(secret_looking, max_bytes=100_000)
    assert "4111" not in str(refused.value.detail) + str(refused.value.errors)
