"""Cold start and memory, each in fresh processes of the Lambda-like venv (benchmarks.lambda_venv):
a function's process imports its handler and serves its example event; the work floor's process
imports the design's required libraries, sets Powertools up and replays exactly what the
handler's invocation put on the wire (benchmarks.work_floor), with no gateway code; the bare
floor's process only imports boto3 and requests. Every clock stops when the process says it is
done (the answer is out, the imports are done), not when the interpreter has torn itself down:
Lambda answers before any teardown, and a process with more objects takes longer to free them
(170-240 ms for a handler's, 45-90 ms for the floor's)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import lambda_venv, work
from benchmarks.backing import EVENTS, Backing, lambda_environment
from benchmarks.stats import median, median_interval
from devserver.template import ROOT, Function, pythonpath

FLOOR = "import boto3, requests"
# Each required library alone, for its own import cost (over an empty interpreter's start).
LIBRARIES = {
    "boto3": "import boto3",
    "requests": "import requests",
    "pydantic": "import pydantic",
    "Powertools Logger": "from aws_lambda_powertools import Logger",
    "Powertools Metrics": "from aws_lambda_powertools import Metrics",
    "Powertools Tracer (X-Ray SDK)": "from aws_lambda_powertools import Tracer",
    "Powertools HTTP resolver": (
        "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver"
    ),
    "Powertools Idempotency": (
        "from aws_lambda_powertools.utilities.idempotency import idempotent_function"
    ),
}
# Then the floor says it is done, with its peak RSS.
FLOOR_DONE = "from benchmarks.probe import peak_rss_kib; print('FLOOR', peak_rss_kib(), flush=True)"
SQS_EXAMPLE = "retry-td-postback.json"


@dataclass
class ColdStart:
    function: str
    tracing: bool  # TracingEnabled: the X-Ray SDK loaded or not
    wall_ms: float  # median wall time of the whole process
    floor_ms: float  # median wall time of the bare floor's process, interleaved
    work_floor_ms: float  # median wall time of the work floor's process, interleaved
    import_ms: float  # median time to import the handler (from interpreter start)
    first_call_ms: float
    status: Any
    # Medians of each round's ratios: a round's processes run back to back, so a machine that
    # slows down for a while slows both sides of a ratio (here the floor alone varies by 30 %).
    ratio: float  # process / bare floor
    work_ratio: float  # process / work floor
    # 95 % interval of work_ratio (benchmarks.stats.median_interval; None: too few rounds): an
    # "over" whose interval reaches the target is within this run's noise.
    work_ratio_interval: tuple[float, float] | None = None


@dataclass
class Memory:
    function: str
    calls: int
    peak_rss_mib: float
    floor_rss_mib: float  # the bare floor's
    work_floor_rss_mib: float  # the work floor's, after the same calls


@dataclass
class ImportCost:
    library: str
    ms: float  # median over rounds of (process importing it) - (empty process), interleaved


def _env(
    backing: Backing, fn: Function, tracing: bool = False, tree: Path = ROOT
) -> dict[str, str]:
    """The environment of a process of `fn` whose code comes from `tree`."""
    # Python skips writing .pyc files when PYTHONDONTWRITEBYTECODE is set to anything, "0"
    # included: drop it, so that the warm-up probe compiles once as a deployed package ships.
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **inherited,
        **backing.envs[fn.logical_id],
        **lambda_environment(fn, tracing=tracing, root=tree),
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "PYTHONPATH": pythonpath(tree),
    }


def _event_file(backing: Backing, fn: Function) -> Path:
    if fn.routes:
        return EVENTS / backing.example(fn)[0]
    return EVENTS / SQS_EXAMPLE


def _until_line(
    argv: list[str], env: dict[str, str] | None, *, from_stderr: bool, cwd: Path = ROOT
) -> tuple[float, str]:
    """Run argv; the milliseconds until it prints its result line, and that line."""
    start = time.perf_counter()
    with subprocess.Popen(
        argv, env=env, cwd=cwd, text=True,
        stdout=subprocess.DEVNULL if from_stderr else subprocess.PIPE,
        stderr=subprocess.PIPE if from_stderr else subprocess.DEVNULL,
    ) as process:  # fmt: skip
        stream = process.stderr if from_stderr else process.stdout
        assert stream is not None
        line = ""
        for line in stream:
            if line.startswith(("{", "FLOOR")):
                break
        wall = (time.perf_counter() - start) * 1000
        stream.read()
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, argv)
    return wall, line


def function_process(
    backing: Backing, fn: Function, calls: int, tracing: bool = False, tree: Path = ROOT
) -> tuple[float, dict[str, Any]]:
    """The function's process (its handler and probe from `tree`): its wall time and what the
    probe reported."""
    argv = [
        lambda_venv.python(), "-m", "benchmarks.probe", fn.module, fn.attribute,
        str(_event_file(backing, fn)), fn.logical_id, str(fn.timeout), str(calls),
    ]  # fmt: skip
    wall, line = _until_line(argv, _env(backing, fn, tracing, tree), from_stderr=True, cwd=tree)
    return wall, json.loads(line)


def _work_floor(
    backing: Backing, fn: Function, work_file: Path, calls: int, tracing: bool = False
) -> tuple[float, dict[str, Any]]:
    argv = [lambda_venv.python(), "-m", "benchmarks.work_floor", str(work_file), str(calls)]
    wall, line = _until_line(argv, _env(backing, fn, tracing), from_stderr=True)
    return wall, json.loads(line)


def _floor(code: str = FLOOR, env: dict[str, str] | None = None) -> tuple[float, int]:
    """The floor's wall time to its imports, and its peak RSS in KiB."""
    wall, line = _until_line(
        [lambda_venv.python(), "-c", f"{code}; {FLOOR_DONE}"], env, from_stderr=False
    )
    return wall, int(line.split()[1])


def _recorded(backing: Backing, fn: Function) -> Path:
    """What the function's example invocation sends, cold and warm (benchmarks.work)."""
    path = backing.state_dir / f"work-{fn.logical_id}.json"
    if not path.exists():
        work.record(backing, fn, _event_file(backing, fn), path)
    return path


def cold_start(backing: Backing, fn: Function, rounds: int, tracing: bool) -> ColdStart:
    # The first of each compiles its .pyc files once, as a deployed package ships them.
    _, handler = function_process(backing, fn, 1, tracing)
    work_file = _recorded(backing, fn)
    _, floor = _work_floor(backing, fn, work_file, 1, tracing)
    if floor["status"] != handler["status"]:  # its resolver missed the route: not the same work
        raise RuntimeError(f"work floor answered {floor['status']}: {fn.logical_id}")
    walls, floors, work_floors, imports, firsts, status = [], [], [], [], [], None
    for n in range(rounds):
        floors.append(_floor()[0])
        # Which of the two goes first alternates: the second of two fresh processes started
        # back to back is not measured as the first is (drain_ab found such an order effect).
        if n % 2:
            wall, result = function_process(backing, fn, 1, tracing)
            work_floors.append(_work_floor(backing, fn, work_file, 1, tracing)[0])
        else:
            work_floors.append(_work_floor(backing, fn, work_file, 1, tracing)[0])
            wall, result = function_process(backing, fn, 1, tracing)
        walls.append(wall)
        imports.append(result["import_ms"])
        firsts.append(result["calls_ms"])
        status = result["status"]
    work_ratios = [w / f for w, f in zip(walls, work_floors, strict=True)]
    return ColdStart(
        fn.logical_id,
        tracing,
        median(walls),
        median(floors),
        median(work_floors),
        median(imports),
        median(firsts),
        status,
        median([w / f for w, f in zip(walls, floors, strict=True)]),
        median(work_ratios),
        median_interval(work_ratios),
    )


def memory(backing: Backing, fn: Function, calls: int) -> Memory:
    _, result = function_process(backing, fn, calls)
    _, floor = _work_floor(backing, fn, _recorded(backing, fn), calls)
    floor_kib = _floor()[1]
    return Memory(
        fn.logical_id,
        calls,
        result["maxrss_kib"] / 1024,
        floor_kib / 1024,
        floor["maxrss_kib"] / 1024,
    )


def import_costs(rounds: int) -> list[ImportCost]:
    """Each required library's own import, over an empty interpreter's start, interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in LIBRARIES}
    _floor("pass")
    for _ in range(rounds):
        empty = _floor("pass")[0]
        for name, code in LIBRARIES.items():
            samples[name].append(_floor(code)[0] - empty)
    return [ImportCost(name, median(ms)) for name, ms in samples.items()]
