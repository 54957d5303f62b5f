"""Request bodies: size limit first, then JSON, with a stable problem code for each failure.
Free of the HTTP framework, so that models can parse raw bodies in field order."""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.core.errors import InvalidRequest, PayloadTooLarge

# A `\uD800`-`\uDFFF` escape: legal JSON syntax, but only valid Unicode as a high-low pair.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(raw: bytes, *, max_bytes: int) -> Any:
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"body is {len(raw)} bytes; at most {max_bytes} are accepted")
    if not raw.strip():
        raise InvalidRequest("body is empty; a JSON document is required", code="EMPTY_BODY")
    try:
        value = json.loads(raw)
        if SURROGATE_ESCAPE.search(raw):
            # An unpaired surrogate cannot be sent on as UTF-8: refuse it here, not at a vendor.
            json.dumps(value, ensure_ascii=False).encode()
        return value
    except UnicodeEncodeError:
        raise InvalidRequest(
            "body has a string with an unpaired UTF-16 surrogate escape", code="INVALID_JSON"
        ) from None
    except RecursionError:
        raise InvalidRequest("body is nested too deeply", code="INVALID_JSON") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidRequest(f"body is not valid JSON{position}", code="INVALID_JSON") from None


def parse_json_object(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    value = parse_json(raw, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise InvalidRequest("body must be a JSON object", code="BODY_NOT_OBJECT")
    return value
