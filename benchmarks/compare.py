"""`make bench-compare BEFORE=<rev> [AFTER=<rev>]`: `make bench` of two commits (the after side:
this tree by default), side by side in one run, alternating (before, after, before, after, ...)
so that the machine's drift falls on both; every figure is the mean of its side's runs. Each
commit's own harness measures it, in a worktree, with this tree's venv (the same libraries on
both sides). Writes benchmarks/results/baseline.json (before) and current.json (after), and
REPORT.md with the before/after of every figure.

    PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks.compare --before 1cd9bb4 [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.report import before_after
from devserver.template import pythonpath

HERE = Path(__file__).parent
ROOT = HERE.parent
# Commits before the SAM CLI moved to its own venv read template.yaml with samcli's YAML loader;
# their harness (never their functions' processes) finds it there.
SAM_SITE = ROOT / ".venv-sam" / "lib" / "python3.11" / "site-packages"


def bench(tree: Path, out: Path, label: str, quick: bool) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([pythonpath(tree), str(SAM_SITE)]),
        "PATH": os.pathsep.join([str(ROOT / ".venv-sam" / "bin"), os.environ.get("PATH", "")]),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    argv = [sys.executable, "-m", "benchmarks", "--out", str(out), "--label", label]
    print(f"{label}: {tree} ...", flush=True)
    subprocess.run([*argv, *(["--quick"] if quick else [])], cwd=tree, env=env, check=True)
    result: dict[str, Any] = json.loads((out / "results" / f"{label}.json").read_text())
    return result


def mean_of(runs: list[Any]) -> Any:
    """The runs' mean, leaf by leaf (numbers averaged; the rest taken from the first run)."""
    first = runs[0]
    if isinstance(first, bool) or not isinstance(first, (int, float, dict, list)):
        return first
    if isinstance(first, dict):
        return {k: mean_of([r[k] for r in runs if k in r]) for k in first}
    if isinstance(first, list):
        if any(not isinstance(r, list) or len(r) != len(first) for r in runs):
            return first
        return [mean_of([r[i] for r in runs]) for i in range(len(first))]
    return statistics.fmean(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", required=True, help="the earlier commit (any git revision)")
    parser.add_argument("--after", help="the later commit (default: this tree as it is)")
    parser.add_argument("--runs", type=int, default=2, help="runs of each side, alternating")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check it runs")
    args = parser.parse_args()
    before_rev = short_rev(args.before)
    after_rev = short_rev(args.after) if args.after else None
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": add_worktree(before_rev, Path(tmp) / "before")}
        trees["after"] = add_worktree(after_rev, Path(tmp) / "after") if after_rev else ROOT
        try:
            runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
            for i in range(args.runs):
                for side, tree in trees.items():
                    out = Path(tmp) / f"{side}-{i}"
                    runs[side].append(bench(tree, out, f"{side}-{i}", args.quick))
        finally:
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)
    old = {**mean_of(runs["before"]), "label": f"{before_rev} (mean of {args.runs})"}
    new = {**mean_of(runs["after"]), "label": f"{after_rev or 'this tree'} (mean of {args.runs})"}
    results = HERE / "results"
    (results / "comparison-before.json").write_text(json.dumps(old, indent=2) + "\n")
    (results / "comparison-after.json").write_text(json.dumps(new, indent=2) + "\n")
    text = "\n".join(comparison(old, new, args.runs, args.quick)) + "\n"
    (results / "comparison.md").write_text(text)
    print(text)


def comparison(old: dict[str, Any], new: dict[str, Any], runs: int, quick: bool) -> list[str]:
    """The comparison's section of REPORT.md: how it was measured, then every figure."""
    table = before_after(old, new)
    return [
        f"`make bench-compare`: `{old['label']}` against `{new['label']}`, {runs} run(s) of "
        f"each side alternating{' at the quick sizes' if quick else ''}, measured "
        f"{old['when']} on {old['machine']}; each side by its own harness, with the same venv.",
        "",
        *table[2:],  # without its own heading
    ]


def paired_parser(doc: str, *, rounds: int) -> argparse.ArgumentParser:
    """The arguments every alternating-pairs tool takes (warm_ab, drain_ab, cold_ab); each adds
    its own size."""
    parser = argparse.ArgumentParser(description=doc.split("\n", 1)[0])
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", help="the later commit (default: this tree as it is)")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--out", required=True, help="file in results/")
    parser.add_argument("--title", required=True)
    return parser


def short_rev(rev: str) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def add_worktree(rev: str, path: Path) -> Path:
    subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT, check=True)
    return path


@contextmanager
def two_trees(before: str, after: str | None) -> Iterator[tuple[Path, Path]]:
    """Worktrees of `before` and `after` (this tree itself when None), removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        old = add_worktree(before, Path(tmp) / "before")
        new = add_worktree(after, Path(tmp) / "after") if after else ROOT
        try:
            yield old, new
        finally:
            for tree in {old, new} - {ROOT}:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT)


def write_section(out: str, title: str, intro: str, table: list[str]) -> None:
    """A paired measurement's section of REPORT.md, as benchmarks/results/`out`."""
    text = "\n".join([f"### {title}", "", intro, "", *table])
    (HERE / "results" / out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
