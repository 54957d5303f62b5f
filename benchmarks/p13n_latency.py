"""What the warm PersonalizationFunction adds over calling TD directly: `make bench`'s warm
measurement (benchmarks/warm_latency.py) for this one route, with a Markdown table of p50/p99.

Everything in-process on loopback (moto, the TD personalization sandbox, the real handler); the
handler and a direct pooled call replaying the very request it sent are interleaved. About 10 s.

    .venv/bin/python -m benchmarks.p13n_latency [--calls 1000]
"""

from __future__ import annotations

import sys
from pathlib import Path

from devserver.template import LAYER_DIR, ROOT

# The layer is importable as in Lambda (/opt/python/gateway), also without make's PYTHONPATH.
sys.path.insert(0, str(LAYER_DIR))

import argparse
import tempfile
import warnings

from benchmarks.backing import backing
from benchmarks.warm_latency import RouteLatency, measure

RESULTS = ROOT / "benchmarks" / "results"
FUNCTION = "PersonalizationFunction"


def table(result: RouteLatency) -> str:
    rows = [
        ("warm handler -> sandbox", result.handler_p50_ms, result.handler_p99_ms),
        ("direct call -> sandbox", result.direct_p50_ms, result.direct_p99_ms),
        ("**added by the gateway**", result.added_p50_ms, result.added_p99_ms),
    ]
    lines = [
        f"`{result.route}` ({result.function}, TD answered {result.status}): "
        f"{result.calls} calls each, interleaved; {result.new_connections} new connections "
        "during the handler's calls.",
        "",
        "| path | p50 ms | p99 ms |",
        "| --- | ---: | ---: |",
        *(f"| {name} | {p50:.2f} | {p99:.2f} |" for name, p50, p99 in rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=1000, help="timed calls per path")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", "No application metrics")  # metrics are disabled here
    with tempfile.TemporaryDirectory() as tmp, backing(Path(tmp)) as stack:
        result = measure(stack, stack.template.function(FUNCTION), args.calls)
    text = table(result)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "p13n_latency.md").write_text(text)


if __name__ == "__main__":
    main()
