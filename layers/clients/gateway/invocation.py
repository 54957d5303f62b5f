"""The Lambda context of the invocation in progress, for layer code that needs its deadline
(the idempotency records' in-progress expiry) without threading it through every call."""

from __future__ import annotations

from typing import Any

_current: Any = None


def bind(context: Any) -> None:
    global _current
    _current = context


def current() -> Any:
    """The invocation's Lambda context, or None outside a handler."""
    return _current
