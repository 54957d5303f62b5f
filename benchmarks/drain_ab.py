"""The retry drain at two commits, in alternating processes: whether a change moved the drain's
ratios to its floor drainer, with the machine's drift between runs cancelled. Each process runs
benchmarks.drain (RetryFunction's workers, then the floor drainer, on one moto and sandbox) by
its own commit's harness; the figures are the medians of the rounds. Writes
benchmarks/results/OUT (REPORT.md includes fix-*.md).

    PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks.drain_ab --before REV \
        [--after REV] [--rounds 3] [--envelopes 3000] --out NAME.md --title TITLE
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

# Runs in the commit's tree: one drain, one JSON line.
CHILD = """
import json, sys, tempfile, warnings
from dataclasses import asdict
from pathlib import Path
warnings.filterwarnings("ignore")
from benchmarks import drain
from benchmarks.backing import backing
with tempfile.TemporaryDirectory() as tmp, backing(Path(tmp)) as stack:
    d = drain.measure(stack, Path(tmp) / "retry.log", envelopes=int(sys.argv[1]), pollers=5,
                      latency_ms=20, receive_lengths=[10])
    print("RESULT " + json.dumps(asdict(d)), flush=True)
"""


def measure(tree: Path, envelopes: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([pythonpath(tree), str(SAM_SITE)]),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    argv = [sys.executable, "-W", "ignore", "-c", CHILD, str(envelopes)]
    out = subprocess.run(argv, cwd=tree, env=env, check=True, capture_output=True, text=True)
    [line] = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    result: dict[str, Any] = json.loads(line[7:])
    return result


def _ratios(d: dict[str, Any]) -> tuple[float, float]:
    """Wall time and workers' CPU, each over the floor drainer's."""
    gateway, floor = d["gateway"], d["floor"]
    return (
        gateway["seconds"] / floor["seconds"],
        gateway["workers_cpu_seconds"] / floor["workers_cpu_seconds"],
    )


def table(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    lines = [
        "| figure (ratio to the floor drainer) | before | after "
        "| after / before (median of pairs) |",
        "|---|---:|---:|---:|",
    ]
    for index, name in enumerate(("drain wall time", "workers' CPU per envelope")):
        before = [_ratios(b)[index] for b, _ in pairs]
        after = [_ratios(a)[index] for _, a in pairs]
        change = median([new / old for old, new in zip(before, after, strict=True)])
        lines.append(f"| {name} | {median(before):.2f}x | {median(after):.2f}x | {change:.3f} |")
    rounds = "; ".join(
        "{:.2f}x / {:.2f}x -> {:.2f}x / {:.2f}x".format(*_ratios(b), *_ratios(a)) for b, a in pairs
    )
    return [*lines, "", f"Each round (wall / CPU, before -> after): {rounds}."]


def main() -> None:
    parser = paired_parser(__doc__, rounds=3)
    parser.add_argument("--envelopes", type=int, default=3000)
    args = parser.parse_args()
    rev = short_rev(args.before)
    after_rev = short_rev(args.after) if args.after else None
    pairs = []
    with two_trees(rev, after_rev) as (before, after):
        for n in range(args.rounds):
            # Which commit goes first alternates too: a drain may leave the machine warmer.
            if n % 2:
                later = measure(after, args.envelopes)
                pairs.append((measure(before, args.envelopes), later))
            else:
                earlier = measure(before, args.envelopes)
                pairs.append((earlier, measure(after, args.envelopes)))
    write_section(
        args.out,
        args.title,
        f"The retry drain, `{rev}` against {f'`{after_rev}`' if after_rev else 'this tree'}: "
        f"{args.rounds} rounds of alternating processes (which goes first alternates too), each "
        f"draining {args.envelopes:,} envelopes through RetryFunction's workers and then the "
        "floor drainer on the same moto and sandbox, by its own commit's harness "
        "(`python -m benchmarks.drain_ab`).",
        table(pairs),
    )


if __name__ == "__main__":
    main()
