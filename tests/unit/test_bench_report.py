"""The benchmark report's arithmetic: runs of one side averaged leaf by leaf, and a before/after
table that lists every figure both runs have and marks one worse by more than 5 %."""

from __future__ import annotations

from typing import Any

from benchmarks.compare import mean_of
from benchmarks.report import before_after


def run(label: str, wall_ms: float, rss: float) -> dict[str, Any]:
    return {
        "label": label,
        "when": "2026-12-01T00:00:00+00:00",
        "cold_start": [
            {"function": "F", "tracing": True, "wall_ms": wall_ms, "floor_ms": 100.0,
             "ratio": wall_ms / 100, "work_ratio": wall_ms / 200}
        ],
        "warm": [],
        "drain": {"envelopes": 1},
        "memory": [{"function": "F", "peak_rss_mib": rss}],
    }  # fmt: skip


def test_mean_of_averages_numbers_and_keeps_the_rest() -> None:
    merged = mean_of([run("a", 300.0, 60.0), run("b", 500.0, 80.0)])

    assert merged["label"] == "a"
    assert merged["cold_start"][0]["wall_ms"] == 400.0
    assert merged["cold_start"][0]["tracing"] is True
    assert merged["memory"][0]["peak_rss_mib"] == 70.0


def test_before_after_marks_only_what_got_worse_by_more_than_5_percent() -> None:
    lines = before_after(run("before", 400.0, 70.0), run("after", 440.0, 71.0))

    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    assert "+10.0% (worse by more than 5 %)" in rows["cold start F (tracing on): process"]
    assert rows["peak RSS F"].endswith("+1.4% |")
    assert "ratio to work floor" in " ".join(rows)
