"""Destination allow-lists: the `database.table` patterns (with `*`) a route may write to or
read from. Checked before any vendor call; an empty list allows nothing."""

from __future__ import annotations

import re
from functools import lru_cache

from gateway.core.errors import DestinationNotAllowed
from gateway.core.settings import split_list


@lru_cache(maxsize=8)
def _matcher(patterns: str) -> re.Pattern[str] | None:
    parts = [re.escape(p).replace(r"\*", "[A-Za-z0-9_]*") for p in split_list(patterns)]
    return re.compile("|".join(parts)) if parts else None


def check_destination(patterns: str, database: str, table: str, *, setting: str) -> None:
    """Raise `DestinationNotAllowed` unless `database.table` matches one of `patterns`."""
    matcher = _matcher(patterns)
    if matcher is None or not matcher.fullmatch(f"{database}.{table}"):
        raise DestinationNotAllowed(
            f"{database}.{table} is not an allowed destination ({setting})",
            errors=[{"pointer": "/path", "detail": "database.table is not allowed here"}],
        )
