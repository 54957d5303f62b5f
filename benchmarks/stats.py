"""Percentiles, the median and its interval, and the quiet-stdout guard the measurements share."""

from __future__ import annotations

import math
import os
import random
import statistics
from collections.abc import Iterator
from contextlib import contextmanager


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def median_interval(samples: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """An interval that holds the true median with at least `confidence`, assuming nothing of
    the samples' distribution (the rounds' ratios of a cold start are no normal sample): the
    k-th smallest and k-th largest sample, for the largest k whose binomial tails leave
    `confidence` in between. None: too few samples for that confidence (6 for 95 %)."""
    ordered = sorted(samples)
    n = len(ordered)
    tail = (1 - confidence) / 2
    k, below = 0, 0.0  # below: the chance that fewer than k samples fall under the median
    while below + math.comb(n, k) / 2**n <= tail:
        below += math.comb(n, k) / 2**n
        k += 1
    return (ordered[k - 1], ordered[n - k]) if k else None


RESAMPLES = 1000


def added_interval(
    handler: list[float], direct: list[float], q: float, confidence: float = 0.95
) -> tuple[float, float]:
    """A bootstrap interval of percentile(handler, q) - percentile(direct, q) over calls made
    interleaved, sample i of each side being one round: rounds are resampled whole, so a
    moment the machine slowed both sides stays paired. Seeded: a report is reproducible."""
    rng = random.Random(0)
    n = len(handler)
    differences = []
    for _ in range(RESAMPLES):
        picked = rng.choices(range(n), k=n)
        differences.append(
            percentile([handler[i] for i in picked], q) - percentile([direct[i] for i in picked], q)
        )
    tail = (1 - confidence) / 2 * 100
    return percentile(differences, tail), percentile(differences, 100 - tail)


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
