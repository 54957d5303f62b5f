"""One run's results (and the baseline run's, when there is one) as REPORT.md and a chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.td_js_sdk import table as table_sdk

COLD_TARGET = 1.10  # the function's process / the work floor's
WARM_TARGET_MS = 0.5  # added p50
WARM_P99_TARGET_MS = 2.0  # added p99
DRAIN_TARGET = 1.5  # the retry function / the floor drainer, wall time and CPU per envelope
MEMORY_TARGET = 1.2  # peak RSS / the work floor's
WORSE_LIMIT = 0.05  # a before/after change beyond noise


def write_report(run: dict[str, Any], baseline: dict[str, Any] | None, path: Path) -> None:
    sizes = run["sizes"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {run['when']} on {run['machine']} by `make bench` (run `{run['label']}`).",
        "Every ratio compares two things measured side by side in the same run.",
        "",
        "![chart](report.png)",
        "",
        f"## 1. Cold start (fresh process, median of {sizes['rounds']}; target <= "
        f"{COLD_TARGET}x the work floor)",
        "",
        "Every process runs in a venv that looks like Lambda's: the clients layer installed from",
        "its lock and nothing else (no SAM CLI, no moto, no awscrt; the layer's boto3/botocore",
        "shadow the runtime's in Lambda, so the lock's pair is the one a function runs), with",
        "the Lambda runtime's environment (LAMBDA_TASK_ROOT, and with tracing the invocation's",
        "trace header). The function's process imports its handler and serves its example event",
        "(secret from moto, vendor call to the sandbox). The work floor's process does the same",
        "required work with no gateway code: it imports boto3, requests, pydantic and",
        "Powertools' Logger, Metrics, Tracer and HTTP resolver, sets Logger, Metrics and Tracer",
        "up, and answers the handler's event through them (the warm work floor of section 2,",
        "`invocation`), its route replaying exactly what the handler's first invocation put on",
        "the wire (each AWS call with a plain boto3 client, each vendor request with",
        "`requests`) and emitting the metrics it emitted. The bare floor's",
        "process imports boto3 and requests. Each clock runs from process start until the",
        "process reports its answer done (the interpreter's teardown is no part of a cold",
        "start). A round runs the three back to back, the function's process and the work",
        "floor's in turns first; each ratio is the median of the rounds' ratios (the times are",
        "the medians of the rounds'). In brackets, an interval that holds the true median of",
        "the ratio to the work floor with at least 95 % confidence, whatever the rounds'",
        "distribution (the k-th smallest and k-th largest round): a ratio over the target",
        "whose interval reaches down to the target is over within this run's noise.",
        "",
        "| Function | tracing | process ms | work floor ms | ratio to work floor (95 % interval) "
        "| bare floor ms "
        "| ratio to bare floor | handler import ms | first call ms | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [cold_row(c) for c in run["cold_start"]]
    if run.get("imports"):
        lines += [
            "",
            "Each required library's own import in that venv (a process importing it alone, less",
            "an empty interpreter's start; medians, interleaved; they share dependencies, so the",
            "costs do not add up):",
            "",
            "| library | import ms |",
            "|---|---:|",
            *(f"| {i['library']} | {i['ms']:.0f} |" for i in run["imports"]),
        ]
    if run.get("lambda_venv"):
        lines += ["", "The Lambda-like venv: " + ", ".join(run["lambda_venv"]) + "."]
    lines += [
        "",
        f"## 2. Warm added latency per route ({sizes['calls']} calls each, interleaved; "
        f"target added p50 <= {WARM_TARGET_MS} ms, p99 <= {WARM_P99_TARGET_MS} ms, no new "
        "connection)",
        "",
        "The warm handler in-process, against a direct replay of exactly what one handler call",
        "sent: its vendor requests to the loopback sandbox (pooled `requests`) and its AWS calls",
        "to moto (a plain boto3 client). The timed calls run in a forked copy of the process",
        "that holds moto and the sandboxes (benchmarks/apart.py): as in Lambda, whose vendors",
        "answer from other machines, no server thread shares the handler's interpreter lock.",
        "Rokt is measured twice: with a `cacheKey` the warm call is a cache hit (one DynamoDB",
        "GetItem, no call to Rokt), without one it calls Rokt. New connections: TCP",
        "connections the sandbox accepted during the timed calls, the handler's, the floor's",
        "and the direct ones alike, all warmed up first (0 = every call reused one; - = the",
        "call sent nothing to the sandbox).",
        "",
        "The warm work floor makes the same direct call inside the required stack's",
        "per-invocation work and no gateway code (benchmarks/work_floor.py, `invocation`):",
        "Powertools' HTTP resolver routes the event to one route, which makes the direct call,",
        "emits the EMF metrics the handler emitted and answers the handler's answer; Logger",
        "takes the Lambda context and the correlation id; Metrics flushes. So the added p50",
        "splits into the required stack's share (work floor - direct) and the gateway's own",
        "code (handler - work floor). Metrics are on, as in Lambda. In brackets, a 95 % bootstrap",
        "interval of the added p50 (the interleaved rounds resampled whole): an over whose",
        "interval reaches the target is within this run's noise.",
        "",
        "| Route (event) | sent per call | handler p50 / p99 ms | work floor p50 / p99 ms "
        "| direct p50 / p99 ms | added p50 / p99 ms | of added p50: stack / gateway ms "
        "| new connections |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for w in run["warm"]:
        added, added99 = _added(w, "p50"), _added(w, "p99")
        connections = "-" if w["new_connections"] is None else w["new_connections"]
        floor = f"{w['floor_p50_ms']:.2f} / {w['floor_p99_ms']:.2f}" if "floor_p50_ms" in w else "-"
        split = (
            f"{w['floor_p50_ms'] - w['direct_p50_ms']:.2f} / "
            f"{w['handler_p50_ms'] - w['floor_p50_ms']:.2f}"
            if "floor_p50_ms" in w
            else "-"
        )
        lines.append(
            f"| `{w['route']}` ({w['status']}, {w['example']}) | {', '.join(w['sent'])} "
            f"| {w['handler_p50_ms']:.2f} / {w['handler_p99_ms']:.2f} | {floor} "
            f"| {w['direct_p50_ms']:.2f} / {w['direct_p99_ms']:.2f} "
            f"| {added:.2f}{_interval(w.get('added_p50_interval'), added, WARM_TARGET_MS)} / "
            f"{added99:.2f}{_mark(added99 <= WARM_P99_TARGET_MS)} | {split} | {connections} |"
        )
    lines += _warm_cpu(run)
    d = run["drain"]
    bound = _drain_bound(d)
    ratio, floor_ratio = d["gateway"]["seconds"] / bound, d["floor"]["seconds"] / bound
    wall = d["gateway"]["seconds"] / d["floor"]["seconds"]
    cpu = d["gateway"].get("workers_cpu_seconds", 0) / (d["floor"].get("workers_cpu_seconds") or 1)
    receive = ", ".join(f"{ms:.0f} ms at {int(n):,}" for n, ms in d["sqs_receive_ms"].items())
    lines += [
        "",
        f"## 3. Retry drain (target <= {DRAIN_TARGET}x the floor drainer, wall time and CPU "
        "per envelope)",
        "",
        f"{d['envelopes']:,} envelopes queued for RetryFunction, the sandbox answering after "
        f"{d['latency_ms']} ms, {d['pollers']} pollers feeding warm worker processes batches of "
        f"{d['batch_size']}. Bound: {d['envelopes']:,} / {d['batch_size']} batches x "
        f"{d['latency_ms']} ms / {d['pollers']} = {bound:.1f} s. The workers run in the "
        "environment Lambda gives a function (LAMBDA_TASK_ROOT and the rest: Powertools' batch "
        "utility then keeps one event loop, as in Lambda). The floor drainer drains the "
        "same envelopes with the same pollers and processes and makes the same calls with plain "
        "boto3 and `requests`: per envelope a conditional PutItem claiming it and its vendor "
        "request, per batch one BatchWriteItem of the delivered records "
        "(benchmarks/floor/drain_floor.py).",
        "",
        "The queue is an in-memory stand-in of the event source mapping: moto's ReceiveMessage "
        f"costs O(queue length) per message it returns ({receive} queued), which would measure "
        "moto. The function's own AWS calls are measured, in moto: per item a conditional put "
        "claiming the envelope's idempotency record, and per batch (its first item to finish "
        'waiting up to 50 ms for the others) one BatchWriteItem of their "delivered" records.',
        "",
        "CPU per envelope: the worker processes' CPU time, and this benchmark process's (moto,",
        "the sandbox and the pollers, one interpreter: moto's share), over the drain. On this",
        "machine's cores a drain cannot take less than its total CPU time divided by the cores.",
        "",
        "| run | seconds | ratio to bound | delivered | duplicates "
        "| peak concurrent vendor calls | CPU ms per envelope: workers / moto, sandbox, pollers |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| RetryFunction | {d['gateway']['seconds']:.1f} | {ratio:.2f}x "
        f"| {d['gateway']['delivered']:,} "
        f"| {d['gateway']['duplicates']} | {d['gateway']['peak_in_flight']} "
        f"| {_cpu_per_envelope(d, 'gateway')} |",
        f"| floor drainer | {d['floor']['seconds']:.1f} | {floor_ratio:.2f}x | "
        f"{d['floor']['delivered']:,} | {d['floor']['duplicates']} | "
        f"{d['floor']['peak_in_flight']} | {_cpu_per_envelope(d, 'floor')} |",
        "",
        f"RetryFunction / floor drainer: wall time {wall:.2f}x{_mark(wall <= DRAIN_TARGET)}, "
        f"workers' CPU per envelope {cpu:.2f}x{_mark(cpu <= DRAIN_TARGET)}.",
        "",
        f"## 4. Memory (peak RSS after {sizes['memory_calls']} calls; target <= "
        f"{MEMORY_TARGET}x the work floor's)",
        "",
        "The function's process after that many invocations, against the work floor's process",
        "after replaying the same invocations (cold once, then warm), both in the Lambda-like",
        "venv; the bare floor imports boto3 and requests.",
        "",
        "| Function | peak RSS MiB | work floor RSS MiB | ratio | bare floor RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in run["memory"]:
        floor = m.get("work_floor_rss_mib")
        ratio = m["peak_rss_mib"] / floor if floor else 0.0
        lines.append(
            f"| {m['function']} | {m['peak_rss_mib']:.1f} | {floor or 0:.1f} "
            f"| {ratio:.2f}x{_mark(ratio <= MEMORY_TARGET)} | {m['floor_rss_mib']:.1f} |"
        )
    layer = run["layer"]
    lines += [
        "",
        f"Built ClientsLayer: {layer['mib']:.1f} MiB in {layer['files']:,} files; largest: "
        + ", ".join(f"{name} {mib:.1f} MiB" for name, mib in layer["top"])
        + ".",
    ]
    if run.get("safety"):
        lines += [
            "",
            "## 5. The cost of safety: AWS calls per write (target: at most one more, only for "
            "opt-out and content)",
            "",
            "Each kind's warm invocation recorded on the function context's boto3 session, with",
            "the ordering and circuit state (DeliveryStateTable) configured and without it",
            "(benchmarks/safety.py). The retry function reads the circuit at most once a second",
            "per process, so a warm replay inside that second makes no such read.",
            "",
            "| kind | path | AWS calls | of them ordering / circuit (per envelope) "
            "| calls without the table (per envelope) |",
            "|---|---|---|---:|---:|",
        ]
        for c in run["safety"]:
            ok = c["state_calls"] <= (
                1 if c["kind"].startswith(("rr.opt_out", "rr.content")) else 0
            )
            calls = ", ".join(c["aws_calls"]) or "-"
            if "batch" in c["path"]:
                calls = f"{len(c['aws_calls'])} for the batch"
            lines.append(
                f"| {c['kind']} | {c['path']} | {calls} "
                f"| {c['state_calls']:g}{_mark(ok)} | {c['aws_calls_without']:g} |"
            )
    if run.get("td_js_sdk"):
        lines += [
            "",
            "## 6. The TD JS SDK route: Postback per event versus the Data Ingestion API",
            "",
            "Through the local runtime over HTTP (benchmarks/td_js_sdk.py); docs/td-js-sdk.md",
            "gives the choice these figures back.",
            "",
            table_sdk(run["td_js_sdk"], sizes.get("sdk_requests", 300)),
        ]
    if baseline:
        lines += ["", *before_after(baseline, run)]
    results = path.parent / "results"
    fixes = sorted(results.glob("fix-*.md"))
    if fixes:  # each fix's before/after, measured when it was made (benchmarks.import_ab, ...)
        lines += ["", "## Fixes, before / after"]
        for fix in fixes:
            lines += ["", fix.read_text()]
    comparison = results / "comparison.md"
    if comparison.exists():  # make bench-compare's last comparison of two commits
        lines += ["", "## Before / after, two commits side by side", "", comparison.read_text()]
    checks = [*sorted(results.glob("noise-*.md")), *sorted(results.glob("choice-*.md"))]
    if checks:  # the harness against itself, and what a choice left alone would save
        lines += ["", "## The harness's noise, and what a choice would save"]
        for check in checks:
            lines += ["", check.read_text()]
    paired = sorted(results.glob("redesign-*.md"))
    if paired:  # benchmarks.import_ab and benchmarks.warm_ab: drift cancelled pair by pair
        lines += ["", "## The redesign (issue 15), in alternating pairs"]
        for table in paired:
            lines += ["", table.read_text()]
    path.write_text("\n".join(lines) + "\n")


def before_after(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Every figure both runs measured, lower is better for each; a change over +5 % is marked."""
    lines = [
        f"## Before / after (`{before['label']}` {before['when']} -> `{after['label']}`)",
        "",
        f"Every figure both runs have; lower is better for each. Marked: worse by more than "
        f"{WORSE_LIMIT:.0%}.",
        "",
        "| Figure | before | after | change |",
        "|---|---:|---:|---:|",
    ]
    rows: list[tuple[str, float, float, str]] = []
    old_cold = {(c["function"], c.get("tracing", True)): c for c in before["cold_start"]}
    for c in after["cold_start"]:
        if (o := old_cold.get((c["function"], c["tracing"]))) is not None:
            name = f"cold start {c['function']} (tracing {'on' if c['tracing'] else 'off'})"
            rows.append((f"{name}: process", o["wall_ms"], c["wall_ms"], "ms"))
            rows.append((f"{name}: ratio to floor", _cold_ratio(o), _cold_ratio(c), "x"))
            for key, floor in (("stack_ratio", "stack floor"), ("work_ratio", "work floor")):
                if key in o and key in c:
                    rows.append((f"{name}: ratio to {floor}", o[key], c[key], "x"))
    # Runs before the event was recorded measured each route with its accepted example.
    old_warm = {(w["route"], w.get("example")): w for w in before["warm"]}
    for w in after["warm"]:
        o = old_warm.get((w["route"], w["example"]))
        if o is None and w["example"].endswith("-accepted.json"):
            o = old_warm.get((w["route"], None))
        if o is not None:
            name = f"warm `{w['route']}` ({w['example']})"
            for q in ("p50", "p99"):
                rows.append(
                    (f"{name}: handler {q}", o[f"handler_{q}_ms"], w[f"handler_{q}_ms"], "ms")
                )
                rows.append((f"{name}: added {q}", _added(o, q), _added(w, q), "ms"))
    old, new = before["drain"], after["drain"]
    if "gateway" in old and old["envelopes"] == new["envelopes"]:  # the same drain measured
        name = f"drain of {new['envelopes']:,}"
        rows.append((f"{name}: seconds", old["gateway"]["seconds"], new["gateway"]["seconds"], "s"))
        rows.append(
            (
                f"{name}: ratio to bound",
                old["gateway"]["seconds"] / _drain_bound(old),
                new["gateway"]["seconds"] / _drain_bound(new),
                "x",
            )
        )
        if "workers_cpu_seconds" in old["gateway"]:
            per = 1000 / new["envelopes"]
            rows.append(
                (
                    f"{name}: workers' CPU per envelope",
                    old["gateway"]["workers_cpu_seconds"] * per,
                    new["gateway"]["workers_cpu_seconds"] * per,
                    "ms",
                )
            )
    old_memory = {m["function"]: m for m in before.get("memory", [])}
    for m in after.get("memory", []):
        if (o := old_memory.get(m["function"])) is not None:
            rows.append((f"peak RSS {m['function']}", o["peak_rss_mib"], m["peak_rss_mib"], "MiB"))
    if "layer" in before and "layer" in after:
        rows.append(("built ClientsLayer", before["layer"]["mib"], after["layer"]["mib"], "MiB"))
    for name, old_value, new_value, unit in rows:
        change = new_value / old_value - 1 if old_value else 0.0
        mark = " (worse by more than 5 %)" if change > WORSE_LIMIT else ""
        lines.append(
            f"| {name} | {old_value:.2f} {unit} | {new_value:.2f} {unit} | {change:+.1%}{mark} |"
        )
    return lines


def _warm_cpu(run: dict[str, Any]) -> list[str]:
    if "warm_cpu" not in run:  # a run from before the canned measurement
        return []
    lines = [
        "",
        f"### 2b. The same warm calls with every answer canned ({run['sizes']['cpu_calls']} "
        "calls each, interleaved)",
        "",
        "Each vendor and AWS answer recorded once from the sandbox and moto, then handed back",
        "from memory (requests' adapter and botocore's HTTP session replaced for the run,",
        "benchmarks/warm_cpu.py): no socket, moto or sandbox thread shares the timed calls, so",
        "what is left is CPU, the client libraries' own (signing, serializing, parsing), the",
        "required stack's and the gateway's, with microseconds of spread where the loopback",
        "figures above have a millisecond on moto's DynamoDB calls.",
        "",
        "| Route (event) | handler / work floor / direct p50 µs | added p50 µs "
        "| of it: stack / gateway µs |",
        "|---|---:|---:|---:|",
    ]
    for c in run["warm_cpu"]:
        handler, floor, direct = c["handler_p50_us"], c["floor_p50_us"], c["direct_p50_us"]
        lines.append(
            f"| {c['function']} ({c['example']}) | {handler:.0f} / {floor:.0f} / {direct:.0f} "
            f"| {handler - direct:.0f} | {floor - direct:.0f} / {handler - floor:.0f} |"
        )
    return lines


def _added(warm: dict[str, Any], q: str) -> float:
    return float(warm[f"handler_{q}_ms"] - warm[f"direct_{q}_ms"])


def _drain_bound(drain: dict[str, Any]) -> float:
    batches = -(-drain["envelopes"] // drain["batch_size"])
    return float(batches * drain["latency_ms"] / 1000 / drain["pollers"])


def cold_row(c: dict[str, Any]) -> str:
    """A cold start's row: its ratio to the work floor with the ratio's 95 % interval."""
    work = c.get("work_ratio", 0.0)
    return (
        f"| {c['function']} | {'on' if c['tracing'] else 'off'} | {c['wall_ms']:.0f} "
        f"| {c.get('work_floor_ms', 0):.0f} "
        f"| {work:.2f}x{_interval(c.get('work_ratio_interval'), work, COLD_TARGET)} "
        f"| {c['floor_ms']:.0f} | {_cold_ratio(c):.2f}x "
        f"| {c['import_ms']:.0f} | {c['first_call_ms']:.0f} | {c['status']} |"
    )


def _cold_ratio(cold: dict[str, Any]) -> float:
    """The median of the rounds' ratios; runs before it was recorded: the ratio of medians."""
    return float(cold.get("ratio") or cold["wall_ms"] / cold["floor_ms"])


def _cpu_per_envelope(drain: dict[str, Any], run: str) -> str:
    r = drain[run]
    if "workers_cpu_seconds" not in r:  # measured before CPU time was
        return "-"
    per = 1000 / drain["envelopes"]
    return f"{r['workers_cpu_seconds'] * per:.2f} / {r['backing_cpu_seconds'] * per:.2f}"


def _mark(ok: bool) -> str:
    return "" if ok else " (over target)"


def _interval(interval: Sequence[float] | None, value: float, target: float) -> str:
    """The figure's 95 % interval and its verdict: an over whose interval reaches the target is
    within the run's noise. None: too few samples (--quick), or a run recorded before it."""
    if not interval:
        return _mark(value <= target)
    low, high = interval
    noise = value > target and low <= target
    return f" ({low:.2f}-{high:.2f})" + (
        " (over target, within noise)" if noise else _mark(value <= target)
    )


def _error_bars(values: list[float], intervals: list[Sequence[float] | None]) -> list[list[float]]:
    """Matplotlib's `yerr` for each value's 95 % interval; none where the run has none."""
    below, above = [], []
    for value, interval in zip(values, intervals, strict=True):
        low, high = interval or (value, value)
        below.append(value - low)
        above.append(high - value)
    return [below, above]


def write_chart(run: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (cold, warm, drain, memory) = plt.subplots(
        1, 4, figsize=(19, 4.5), gridspec_kw={"width_ratios": [5, 5, 2, 4]}
    )
    for tracing, color, offset in ((True, "#4c72b0", -0.2), (False, "#55a868", 0.2)):
        rows = [c for c in run["cold_start"] if c["tracing"] == tracing]
        ratios = [c.get("work_ratio", 0.0) for c in rows]
        cold.bar(
            [i + offset for i in range(len(rows))],
            ratios,
            yerr=_error_bars(ratios, [c.get("work_ratio_interval") for c in rows]),
            capsize=3,
            width=0.4,
            color=color,
            label="tracing on" if tracing else "tracing off",
        )
    names = [c["function"].removesuffix("Function") for c in run["cold_start"] if c["tracing"]]
    cold.set_xticks(range(len(names)), names)
    cold.axhline(COLD_TARGET, color="#c44e52", linestyle="--", label=f"target {COLD_TARGET}x")
    cold.set_title("Cold start / work floor")
    cold.set_ylabel("ratio")
    cold.legend(loc="lower right")
    routes = [w["example"].removesuffix(".json").removesuffix("-accepted") for w in run["warm"]]
    added = [_added(w, "p50") for w in run["warm"]]
    warm.bar(
        routes,
        added,
        yerr=_error_bars(added, [w.get("added_p50_interval") for w in run["warm"]]),
        capsize=3,
        label="added p50 (95 % interval)",
    )
    warm.axhline(
        WARM_TARGET_MS, color="#c44e52", linestyle="--", label=f"target {WARM_TARGET_MS} ms"
    )
    warm.set_title("Warm added latency over a direct call (ms)")
    warm.legend()
    d = run["drain"]
    drain.bar(
        ["floor", "Retry"],
        [d["floor"]["seconds"], d["gateway"]["seconds"]],
        color=["#55a868", "#4c72b0"],
    )
    drain.set_title(f"Drain of {d['envelopes']:,} (s)")
    memory.bar(
        [m["function"].removesuffix("Function") for m in run["memory"]],
        [
            m["peak_rss_mib"] / (m.get("work_floor_rss_mib") or m["floor_rss_mib"])
            for m in run["memory"]
        ],
        color="#8172b2",
    )
    memory.axhline(MEMORY_TARGET, color="#c44e52", linestyle="--", label=f"target {MEMORY_TARGET}x")
    memory.set_title("Peak RSS / work floor's")
    memory.legend(loc="lower right")
    for axis in (cold, warm, memory):
        axis.tick_params(axis="x", rotation=25)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
