"""Request bodies: one JSON limit for every body, checked at the edge, so that what the gateway
accepts its envelope can carry and replay (docs/delivery.md, "Accepted means deliverable"):
- at most MAX_BYTES of the route, else 413; not empty;
- valid UTF-8 (no surrogate bytes) and no unpaired `\\uD800`-`\\uDFFF` escape;
- at most MAX_DEPTH levels of nesting;
- integers within Python's digit limit; no `NaN`, `Infinity` or number that overflows to one.
Every failure is a 400 `INVALID_JSON` whose `errors` point at the place (a JSON pointer, or the
byte position of a syntax error). Free of the HTTP framework, so that models can parse raw
bodies in field order. No message ever quotes the body."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from gateway.core.errors import InvalidRequest, PayloadTooLarge

MAX_DEPTH = 64
# A `\uD800`-`\uDFFF` escape: legal JSON syntax, but only valid Unicode as a high-low pair.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Strings (skipped whole) and brackets, for finding the depth of an unparseable document.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class _Refused:
    """A number the limit refuses, kept in place so that the walk can point at it."""

    def __init__(self, why: str) -> None:
        self.why = why


def _integer(text: str) -> int | _Refused:
    if len(text.lstrip("-")) > sys.get_int_max_str_digits():
        return _Refused(f"integer has more than {sys.get_int_max_str_digits()} digits")
    return int(text)


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused("number is too large for a double")


def _constant(name: str) -> _Refused:
    return _Refused(f"{name} is not JSON")


def _invalid(
    detail: str, *, pointer: str | None = None, position: int | None = None
) -> InvalidRequest:
    entry: dict[str, Any] = {"detail": detail}
    if pointer is not None:
        entry["pointer"] = pointer
    if position is not None:
        entry["position"] = position
    return InvalidRequest(
        f"body is not accepted JSON: {detail}", code="INVALID_JSON", errors=[entry]
    )


def _too_deep_at(text: str) -> int | None:
    """Where nesting first goes beyond MAX_DEPTH (for a document too deep to parse at all)."""
    depth = 0
    for token in _TOKENS.finditer(text):
        if token.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return token.start()
        elif token.group() in "]}":
            depth -= 1
    return None


def _escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def _refused_inside(value: Any) -> bool:
    """Whether the document holds a refused number or nests beyond MAX_DEPTH: the walk every
    accepted body pays, so it builds no pointers (only containers and refusals are looked at)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is _Refused:
                return True
    return False


def _check(value: Any) -> None:
    """Raise at the first refused number or nesting beyond MAX_DEPTH, with its JSON pointer.
    The walk is iterative: depth is what is being checked."""
    if isinstance(value, _Refused):
        raise _invalid(value.why, pointer="/")
    if not isinstance(value, dict | list) or not _refused_inside(value):
        return
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, pointer, depth = stack.pop()
        if isinstance(node, _Refused):
            raise _invalid(node.why, pointer=pointer or "/")
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise _invalid(f"nested deeper than {MAX_DEPTH} levels", pointer=pointer or "/")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((child, f"{pointer}/{_escape(key)}", depth + 1) for key, child in items)


def parse_json(raw: bytes, *, max_bytes: int) -> Any:
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"body is {len(raw)} bytes; at most {max_bytes} are accepted")
    if not raw.strip():
        raise InvalidRequest("body is empty; a JSON document is required", code="EMPTY_BODY")
    try:
        text = raw.decode("utf-8")  # strict: surrogate bytes are not UTF-8
    except UnicodeDecodeError as exc:
        raise _invalid("body is not valid UTF-8", position=exc.start) from None
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        detail = f"nested deeper than {MAX_DEPTH} levels"
        raise _invalid(detail, position=_too_deep_at(text)) from None
    except json.JSONDecodeError as exc:
        raise _invalid("syntax error", position=exc.pos) from None
    _check(value)
    if SURROGATE_ESCAPE.search(raw):
        try:
            # An unpaired surrogate cannot be sent on as UTF-8: refuse it here, not at a vendor.
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise _invalid("a string has an unpaired UTF-16 surrogate escape") from None
    return value


def parse_json_object(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    value = parse_json(raw, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise InvalidRequest("body must be a JSON object", code="BODY_NOT_OBJECT")
    return value
