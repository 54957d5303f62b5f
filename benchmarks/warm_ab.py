"""Every warm route at two commits, in alternating processes: what a change costs or saves per
warm call, with the machine's drift between runs cancelled. Each process measures every route
(benchmarks.warm_latency, `calls` interleaved handler and direct calls) by its own commit's
harness, with Powertools Metrics on for both (older harnesses turned them off); processes of the
two commits alternate for `rounds` rounds; the figures are the medians of the rounds' pairs.
Writes benchmarks/results/OUT (REPORT.md includes the fix and redesign tables).

    PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks.warm_ab --before REV \
        [--after REV] [--rounds 12] [--calls 500] --out NAME.md --title TITLE
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.compare import SAM_SITE, paired_parser, short_rev, two_trees, write_section
from benchmarks.stats import median
from devserver.template import pythonpath

# Runs in the commit's tree: its own backing and warm measurement, one JSON line per route.
CHILD = """
import json, os, sys, tempfile, warnings
from pathlib import Path
warnings.filterwarnings("ignore")
from benchmarks import warm_latency
from benchmarks.backing import backing
try:
    from benchmarks.work import examples
except ImportError:
    examples = warm_latency.examples
with tempfile.TemporaryDirectory() as tmp, backing(Path(tmp)) as stack:
    os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
    for env in stack.envs.values():
        env.pop("POWERTOOLS_METRICS_DISABLED", None)
    for fn in stack.http_functions():
        for example in examples(stack, fn):
            r = warm_latency.measure(stack, fn, int(sys.argv[1]), example)
            line = {"example": r.example, "handler": r.handler_p50_ms, "direct": r.direct_p50_ms}
            print("RESULT " + json.dumps(line), flush=True)
"""


def measure(tree: Path, calls: int) -> dict[str, dict[str, float]]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([pythonpath(tree), str(SAM_SITE)]),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    argv = [sys.executable, "-W", "ignore", "-c", CHILD, str(calls)]
    out = subprocess.run(argv, cwd=tree, env=env, check=True, capture_output=True, text=True)
    rows = [json.loads(line[7:]) for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    return {r["example"]: r for r in rows}


def table(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    lines = [
        "| Route (event) | handler p50 before / after ms | after / before (median of pairs) "
        "| added p50 before / after ms | added change (median of pairs) ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for example in pairs[0][0]:
        rounds = [(b[example], a[example]) for b, a in pairs if example in b and example in a]
        ratio = median([a["handler"] / b["handler"] for b, a in rounds])
        added_b = [b["handler"] - b["direct"] for b, _ in rounds]
        added_a = [a["handler"] - a["direct"] for _, a in rounds]
        change = median([new - old for old, new in zip(added_b, added_a, strict=True)])
        lines.append(
            f"| {example} | {median([b['handler'] for b, _ in rounds]):.2f} / "
            f"{median([a['handler'] for _, a in rounds]):.2f} | {ratio:.3f} "
            f"| {median(added_b):.2f} / {median(added_a):.2f} | {change:+.3f} |"
        )
    return lines


def main() -> None:
    parser = paired_parser(__doc__, rounds=12)
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    rev = short_rev(args.before)
    after_rev = short_rev(args.after) if args.after else None
    pairs = []
    with two_trees(rev, after_rev) as (before, after):
        for _ in range(args.rounds):
            pairs.append((measure(before, args.calls), measure(after, args.calls)))
    write_section(
        args.out,
        args.title,
        f"Every warm route, `{rev}` against {f'`{after_rev}`' if after_rev else 'this tree'}: "
        f"{args.rounds} rounds of alternating processes, each measuring {args.calls} "
        "interleaved handler and direct calls per route by its own commit's harness, Metrics "
        "on for both (`python -m benchmarks.warm_ab`). A Rokt cache hit's added latency is "
        "only comparable where both harnesses recorded its GetItem.",
        table(pairs),
    )


if __name__ == "__main__":
    main()
