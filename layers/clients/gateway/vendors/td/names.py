"""Treasure Data's naming rule for databases and tables, checked before any vendor call."""

from __future__ import annotations

import re

from gateway.core.destinations import check_destination
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


def check_destination_names(
    database: str,
    table: str,
    *,
    patterns: str,
    setting: str,
    name: re.Pattern[str] = NAME,
) -> None:
    """TD's names (400), then the destination allow-list (403), before any body is read."""
    check_name(database, what="database", pattern=name, rule=name.pattern)
    check_name(table, what="table", pattern=name, rule=name.pattern)
    check_destination(patterns, database, table, setting=setting)
