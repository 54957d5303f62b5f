from __future__ import annotations

import random

import pytest

from devserver.template import Template
from gateway.core.settings import Settings
from gateway.delivery import policy

FOUR_HOURS = 4 * 3600
DEFAULTS = Settings.model_validate(
    {"retry_backoff_base_seconds": 30, "retry_backoff_max_seconds": 3600}
)


def backoff_seconds(receive_count: int, *, rng: random.Random) -> int:
    return policy.backoff_seconds(DEFAULTS, receive_count, rng=rng)


def test_backoff_doubles_from_30_seconds_and_caps_at_an_hour() -> None:
    ceilings = [backoff_seconds(n, rng=_Edge(low=False)) for n in range(1, 12)]
    assert ceilings == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]


@pytest.mark.parametrize("seed", range(20))
def test_jitter_stays_within_80_to_100_percent(seed: int) -> None:
    rng = random.Random(seed)
    for n in range(1, 12):
        ceiling = min(30 * 2 ** (n - 1), 3600)
        assert int(ceiling * 0.8) <= backoff_seconds(n, rng=rng) <= ceiling


def test_template_receive_count_keeps_a_write_retried_for_four_hours() -> None:
    template = Template()
    max_receives = int(template.parameters["RetryMaxReceives"])
    # Every receive but the last is followed by a backoff; take the shortest jitter each time.
    shortest_span = sum(backoff_seconds(n, rng=_Edge(low=True)) for n in range(1, max_receives))
    assert shortest_span >= FOUR_HOURS


def test_queue_visibility_is_six_times_the_retry_function_timeout() -> None:
    template = Template()
    visibility = template.of_type("AWS::SQS::Queue")["RetryQueue"]["VisibilityTimeout"]
    assert visibility >= 6 * template.function("RetryFunction").timeout


class _Edge(random.Random):
    """Always the low or the high end of the jitter range."""

    def __init__(self, *, low: bool) -> None:
        super().__init__()
        self.low = low

    def uniform(self, a: float, b: float) -> float:
        return a if self.low else b
