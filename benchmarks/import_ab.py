"""Each function's handler import at two commits, alternating, in the Lambda-like venv: what a
cold-start fix in the gateway's own code saves, measured apart from everything else a cold start
costs. A process imports the required stack (not timed), then the handler (timed); pairs of
processes, one per commit, alternate; the figure is the median of the pairs' differences.
Writes benchmarks/results/fix-cold-imports.md (REPORT.md includes it).

    PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks.import_ab --before REV [--pairs 30] \
        [--tracing]

With `--after REV` the later side is that commit instead of this tree, and the table goes to
`--out` (for a comparison that is no fix of this tree's, such as the redesign's own).
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from benchmarks import lambda_venv
from benchmarks.compare import short_rev, two_trees, write_section
from benchmarks.stats import median
from devserver.template import Template, pythonpath

# Imports the stack untimed, then the handler module given, and prints its milliseconds.
PROBE = (
    "import boto3, requests, pydantic, time, importlib, sys; "
    "from aws_lambda_powertools import Logger, Metrics, Tracer; "
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "t = time.perf_counter(); importlib.import_module(sys.argv[1]); "
    "print((time.perf_counter() - t) * 1000)"
)


def handler_import_ms(tree: Path, module: str, code_uri: str, *, tracing: bool = False) -> float:
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath(tree),
        "LAMBDA_TASK_ROOT": str(tree / code_uri),
        "AWS_LAMBDA_FUNCTION_NAME": "import-ab",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }
    if tracing:  # the handler's import then sets Tracer up and patches what it traces
        del env["POWERTOOLS_TRACE_DISABLED"]
        env["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    argv = [lambda_venv.python(), "-c", PROBE, module]
    out = subprocess.run(argv, env=env, cwd=tree, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--after", help="the later commit (default: this tree as it is)")
    parser.add_argument("--tracing", action="store_true", help="with tracing on")
    parser.add_argument("--out", default="fix-cold-imports.md", help="file in results/")
    parser.add_argument(
        "--title", default="Cold start: request and envelope models built when first used"
    )
    args = parser.parse_args()
    rev = short_rev(args.before)
    after_rev = short_rev(args.after) if args.after else None
    rows = []
    with two_trees(rev, after_rev) as (before, after):
        for fn in Template().functions():
            for tree in (before, after):  # compile .pyc files once, as a package ships
                handler_import_ms(tree, fn.module, fn.code_uri, tracing=args.tracing)
            pairs = [
                (
                    handler_import_ms(before, fn.module, fn.code_uri, tracing=args.tracing),
                    handler_import_ms(after, fn.module, fn.code_uri, tracing=args.tracing),
                )
                for _ in range(args.pairs)
            ]
            old = median([b for b, _ in pairs])
            new = median([a for _, a in pairs])
            saved = median([b - a for b, a in pairs])
            rows.append(f"| {fn.logical_id} | {old:.1f} | {new:.1f} | {saved:+.1f} |")
    write_section(
        args.out,
        args.title,
        f"Handler import in the Lambda-like venv, `{rev}` against "
        f"{f'`{after_rev}`' if after_rev else 'this tree'}{', tracing on' if args.tracing else ''} "
        f"({args.pairs} alternating pairs per function; `python -m benchmarks.import_ab`):",
        [
            "| Function | before ms | after ms | saved ms (median of pairs) |",
            "|---|---:|---:|---:|",
            *rows,
        ],
    )


if __name__ == "__main__":
    main()
