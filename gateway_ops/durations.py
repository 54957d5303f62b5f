"""`--older-than 2h` and the ages the reports print."""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse(text: str) -> float:
    """`90s`, `30m`, `2h`, `7d`, `1w`, or a sum of them (`1d12h`) -> seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 30m, 2h, 7d, 1d12h)")
    return sum(float(n) * UNITS[u] for n, u in parts)


def render(seconds: float) -> str:
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            rest = seconds % size
            small = {"d": 3600, "h": 60, "m": 1}[unit]
            minor = {"d": "h", "h": "m", "m": "s"}[unit]
            return f"{seconds // size}{unit}" + (f"{rest // small}{minor}" if rest // small else "")
    return f"{seconds}s"
