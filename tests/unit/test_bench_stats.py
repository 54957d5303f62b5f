"""The benchmarks' intervals (a cold start's median ratio, a warm route's added p50), which tell a
figure over its target within a run's noise from one beyond it."""

from __future__ import annotations

import random

from benchmarks.report import cold_row
from benchmarks.stats import added_interval, median, median_interval


def test_the_interval_is_the_order_statistics_of_the_binomial_tables() -> None:
    # Textbook ranks for a 95 % distribution-free interval: n=11 -> 2nd and 10th (98.8 %),
    # n=21 -> 6th and 16th (97.3 %).
    assert median_interval([float(i) for i in range(1, 12)]) == (2.0, 10.0)
    assert median_interval([float(i) for i in range(21, 0, -1)]) == (6.0, 16.0)


def test_too_few_samples_for_95_percent_give_no_interval() -> None:
    # 5 samples: the widest interval, their range, holds the median with 1 - 2/32 = 94 %.
    assert median_interval([5.0, 3.0, 1.0, 2.0, 4.0]) is None
    assert median_interval([6.0, 5.0, 3.0, 1.0, 2.0, 4.0]) == (1.0, 6.0)  # 97 %


def test_the_interval_holds_the_median_of_a_skewed_distribution_at_least_95_percent() -> None:
    rng = random.Random(20261206)
    true_median = 1.0  # lognormal(0, 1)'s: e**0
    held = 0
    for _ in range(4000):
        interval = median_interval([rng.lognormvariate(0, 1) for _ in range(21)])
        assert interval is not None
        held += interval[0] <= true_median <= interval[1]
    assert held / 4000 >= 0.95


def cold(work_ratios: list[float]) -> dict[str, object]:
    return {
        "function": "F", "tracing": True, "wall_ms": 400.0, "floor_ms": 180.0,
        "work_floor_ms": 370.0, "import_ms": 250.0, "first_call_ms": 120.0, "status": 200,
        "ratio": 2.2, "work_ratio": median(work_ratios),
        "work_ratio_interval": median_interval(work_ratios),
    }  # fmt: skip


def test_a_cold_row_says_whether_an_over_is_within_the_runs_noise() -> None:
    within = cold([1.01 + i / 100 for i in range(21)])  # median 1.11, interval 1.06-1.16
    beyond = cold([1.11 + i / 100 for i in range(21)])  # median 1.21, interval 1.16-1.26

    assert "1.11x (1.06-1.16) (over target, within noise)" in cold_row(within)
    assert "1.21x (1.16-1.26) (over target) " in cold_row(beyond)
    assert "(over" not in cold_row(cold([0.95 + i / 100 for i in range(21)]))


def test_too_few_rounds_or_a_run_recorded_before_the_interval_show_the_ratio_alone() -> None:
    quick = cold([1.05, 1.25])
    old = cold([1.15])
    del old["work_ratio_interval"]

    assert "| 1.15x (over target) |" in cold_row(quick)
    assert "| 1.15x (over target) |" in cold_row(old)


def test_the_added_interval_resamples_rounds_whole() -> None:
    # Each round's handler call took its direct call's time plus 0.3 ms, on a machine whose
    # speed swung 10x between rounds: resampled as pairs, the difference is 0.3 in every resample.
    rng = random.Random(7)
    direct = [rng.uniform(1, 10) for _ in range(300)]
    handler = [d + 0.3 for d in direct]

    low, high = added_interval(handler, direct, 50)

    assert round(low, 9) == round(high, 9) == 0.3


def test_the_added_interval_holds_the_true_difference_about_95_percent() -> None:
    rng = random.Random(11)
    held, trials = 0, 60
    for _ in range(trials):
        direct = [rng.expovariate(1) for _ in range(200)]  # skewed, as the loopback's calls
        handler = [0.3 + rng.expovariate(1) for _ in range(200)]
        low, high = added_interval(handler, direct, 50)
        held += low <= 0.3 <= high  # the medians: ln 2 and 0.3 + ln 2

    assert held / trials >= 0.9
