"""Percentiles and the quiet-stdout guard the measurements share."""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send fd 1 to /dev/null: the handlers still format and write their log lines (part of the
    cost measured), but the terminal is not flooded."""
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)
