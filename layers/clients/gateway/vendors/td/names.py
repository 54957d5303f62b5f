"""Treasure Data's naming rule for databases and tables, checked before any vendor call."""

from __future__ import annotations

import re

from gateway.core.errors import InvalidRequest

# TD's rule for the postback path (vendor document): letters, digits and underscores only.
NAME = re.compile(r"[A-Za-z0-9_]+")
# The Real-time Personalization API's stricter rule: lower case, 3 to 128 characters.
P13N_NAME = re.compile(r"[0-9a-z_]{3,128}")


def check_name(
    value: str, *, what: str, pattern: re.Pattern[str] = NAME, rule: str = NAME.pattern
) -> str:
    if not pattern.fullmatch(value):
        raise InvalidRequest(
            f"{what} name must match {rule}",
            code=f"INVALID_{what.upper()}_NAME",
            errors=[{"pointer": f"/path/{what}", "detail": f"must match {rule}"}],
        )
    return value
