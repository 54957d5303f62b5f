"""Each function's whole cold start at two commits, in alternating processes of the Lambda-like
venv: what a cold-start fix saves, the machine's drift between rounds cancelled. A round runs
the function's process (import, secret, first answer; benchmarks.probe, as `make bench`'s cold
start) of each commit back to back, which goes first alternating; both serve the example event
from the same moto and sandboxes. The figure is the median of the rounds' after/before ratios,
with the interval that holds it (benchmarks.stats.median_interval). Writes
benchmarks/results/OUT (REPORT.md includes fix-*.md).

    PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks.cold_ab --before REV \
        [--after REV] [--rounds 15] [--function NAME] --out NAME.md --title TITLE
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.backing import Backing, backing
from benchmarks.compare import paired_parser, short_rev, two_trees, write_section
from benchmarks.processes import function_process
from benchmarks.stats import median, median_interval
from devserver.template import Function

Pair = tuple[tuple[float, float], tuple[float, float]]  # (wall, first call) before, after


def rounds_of(
    stack: Backing, fn: Function, tracing: bool, trees: tuple[Path, Path], rounds: int
) -> list[Pair]:
    for tree in trees:  # compile each commit's .pyc files once, as a package ships them
        function_process(stack, fn, 1, tracing, tree)
    pairs = []
    for n in range(rounds):
        order = trees if n % 2 == 0 else trees[::-1]
        measured = {}
        for tree in order:
            wall, probe = function_process(stack, fn, 1, tracing, tree)
            measured[tree] = (wall, probe["calls_ms"])
        pairs.append((measured[trees[0]], measured[trees[1]]))
    return pairs


def row(fn: Function, tracing: bool, pairs: list[Pair]) -> str:
    ratios = [after[0] / before[0] for before, after in pairs]
    interval = median_interval(ratios)
    bracket = f" ({interval[0]:.3f}-{interval[1]:.3f})" if interval else ""
    walls = [median([p[side][0] for p in pairs]) for side in (0, 1)]
    calls = [median([p[side][1] for p in pairs]) for side in (0, 1)]
    return (
        f"| {fn.logical_id} | {'on' if tracing else 'off'} | {walls[0]:.0f} | {walls[1]:.0f} "
        f"| {median(ratios):.3f}{bracket} | {calls[0]:.0f} | {calls[1]:.0f} |"
    )


def main() -> None:
    parser = paired_parser(__doc__, rounds=15)
    parser.add_argument("--function", help="one function's logical id (default: every one)")
    args = parser.parse_args()
    rev = short_rev(args.before)
    after_rev = short_rev(args.after) if args.after else None
    rows = []
    with (
        two_trees(rev, after_rev) as trees,
        tempfile.TemporaryDirectory() as tmp,
        backing(Path(tmp)) as stack,
    ):
        for fn in stack.template.functions():
            if args.function in (None, fn.logical_id):
                for tracing in (True, False):
                    pairs = rounds_of(stack, fn, tracing, trees, args.rounds)
                    rows.append(row(fn, tracing, pairs))
    write_section(
        args.out,
        args.title,
        f"Each function's whole cold start (process start to first answer) in the Lambda-like "
        f"venv, `{rev}` against {f'`{after_rev}`' if after_rev else 'this tree'}: "
        f"{args.rounds} rounds of alternating processes, which goes first alternating too "
        "(`python -m benchmarks.cold_ab`). In brackets, the 95 % interval of the median ratio.",
        [
            "| Function | tracing | before ms | after ms | after / before (median of rounds) "
            "| first call before ms | after ms |",
            "|---|---|---:|---:|---:|---:|---:|",
            *rows,
        ],
    )


if __name__ == "__main__":
    main()
