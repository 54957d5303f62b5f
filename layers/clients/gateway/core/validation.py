"""Pydantic validation errors as a problem: one `errors` entry per failure, each with the JSON
pointer into the request body (and the array index of the item it belongs to)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from gateway.core.errors import UnprocessableRequest

T = TypeVar("T")
# Pydantic's wording names Python types; callers sent JSON.
_PLAIN = {
    "model_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "extra_forbidden": "is not an accepted property",
}


def validated(adapter: TypeAdapter[T], data: Any, *, code: str, what: str) -> T:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        errors = [_entry(error) for error in exc.errors(include_url=False, include_input=False)]
        raise UnprocessableRequest(
            f"{what}: {len(errors)} problem(s); see errors", code=code, errors=errors
        ) from None


def _entry(error: Any) -> dict[str, Any]:
    loc = [str(part) for part in error["loc"]]
    entry: dict[str, Any] = {
        "pointer": "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in loc),
        "detail": _PLAIN.get(error["type"]) or str(error["msg"]).removeprefix("Value error, "),
    }
    if error["loc"] and isinstance(error["loc"][0], int):
        entry["index"] = error["loc"][0]
    return entry
