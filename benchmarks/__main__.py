"""`make bench` / `python -m benchmarks`: every figure of benchmarks/REPORT.md, measured side by
side in one run on this machine, plus report.png. `--quick` runs tiny sizes (a smoke run)."""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    drain,
    lambda_venv,
    layer_size,
    processes,
    safety,
    td_js_sdk,
    warm_cpu,
    warm_latency,
    work,
)
from benchmarks.backing import backing
from benchmarks.report import write_chart, write_report

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check it runs")
    parser.add_argument("--out", type=Path, default=HERE, help="where REPORT.md/report.png go")
    parser.add_argument("--label", default="current", help="name of this run in results/")
    args = parser.parse_args()
    sizes = (
        {
            "rounds": 2,
            "calls": 30,
            "cpu_calls": 30,
            "memory_calls": 30,
            "envelopes": 200,
            "pollers": 2,
            "sdk_requests": 30,
        }
        if args.quick
        else {
            "rounds": 21,
            "calls": 1000,
            "cpu_calls": 3000,
            "memory_calls": 1000,
            "envelopes": 10_000,
            "pollers": 5,
            "sdk_requests": 300,
        }
    )
    results: dict[str, Any] = {
        "label": args.label,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {_cpus()} cores, Python {platform.python_version()}",
        "sizes": sizes,
    }
    with tempfile.TemporaryDirectory() as tmp, backing(Path(tmp)) as stack:
        functions = stack.template.functions()
        results["lambda_venv"] = lambda_venv.packages()
        print("import costs ...", flush=True)
        results["imports"] = [asdict(i) for i in processes.import_costs(sizes["rounds"])]
        print("cold start ...", flush=True)
        results["cold_start"] = [
            asdict(processes.cold_start(stack, fn, sizes["rounds"], tracing))
            for fn in functions
            for tracing in (True, False)
        ]
        print("memory ...", flush=True)
        results["memory"] = [
            asdict(processes.memory(stack, fn, sizes["memory_calls"])) for fn in functions
        ]
        print("warm latency ...", flush=True)
        results["warm"] = [
            asdict(warm_latency.measure(stack, fn, sizes["calls"], example))
            for fn in stack.http_functions()
            for example in work.examples(stack, fn)
        ]
        print("warm CPU, answers canned ...", flush=True)
        results["warm_cpu"] = [
            asdict(warm_cpu.measure(stack, fn, sizes["cpu_calls"], example))
            for fn in stack.http_functions()
            for example in work.examples(stack, fn)
        ]
        print("cost of safety ...", flush=True)
        results["safety"] = [asdict(c) for c in safety.measure(stack)]
        print("retry drain ...", flush=True)
        results["drain"] = asdict(
            drain.measure(
                stack,
                Path(tmp) / "retry.log",
                envelopes=sizes["envelopes"],
                pollers=sizes["pollers"],
                latency_ms=20,
                # Queueing 3,000 messages in moto takes a minute: the quick run shows the trend.
                receive_lengths=[10, 100] if args.quick else drain.RECEIVE_QUEUE_LENGTHS,
            )
        )
        print("layer size (sam build) ...", flush=True)
        # AWS SAM CLI's own venv (make install), else whatever `sam` is on PATH.
        sam = shutil.which("sam", path=str(HERE.parent / ".venv-sam" / "bin")) or "sam"
        results["layer"] = asdict(layer_size.measure(Path(tmp) / "build", sam))
    print("TD JS SDK route (local runtime) ...", flush=True)
    results["td_js_sdk"] = td_js_sdk.measure(sizes["sdk_requests"])

    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "results" / f"{args.label}.json"
    saved.parent.mkdir(exist_ok=True)
    saved.write_text(json.dumps(results, indent=2) + "\n")
    baseline_file = args.out / "results" / "baseline.json"
    baseline = json.loads(baseline_file.read_text()) if baseline_file.exists() else None
    write_chart(results, args.out / "report.png")
    write_report(results, baseline, args.out / "REPORT.md")
    print((args.out / "REPORT.md").read_text())


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
