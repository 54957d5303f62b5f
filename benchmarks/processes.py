"""Cold start and memory, each in fresh processes: a function's process imports its handler and
serves its example event; the floor's process only imports boto3 and requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.backing import EVENTS, Backing
from benchmarks.stats import median
from devserver.template import ROOT, Function

FLOOR = "import boto3, requests"
FLOOR_RSS = FLOOR + "; from benchmarks.probe import peak_rss_kib; print(peak_rss_kib())"
SQS_EXAMPLE = "retry-td-postback.json"


@dataclass
class ColdStart:
    function: str
    tracing: bool  # TracingEnabled: the X-Ray SDK loaded or not
    wall_ms: float  # median wall time of the whole process
    floor_ms: float  # median wall time of the floor's process, interleaved
    import_ms: float  # median time to import the handler (from interpreter start)
    first_call_ms: float
    status: Any

    @property
    def ratio(self) -> float:
        return self.wall_ms / self.floor_ms


@dataclass
class Memory:
    function: str
    calls: int
    peak_rss_mib: float
    floor_rss_mib: float


def _env(backing: Backing, fn: Function, tracing: bool = False) -> dict[str, str]:
    # Python skips writing .pyc files when PYTHONDONTWRITEBYTECODE is set to anything, "0"
    # included: drop it, so that the warm-up probe compiles once as a deployed package ships.
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {
        **inherited,
        **backing.envs[fn.logical_id],
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers' / 'clients'}",
    }


def _event_file(backing: Backing, fn: Function) -> Path:
    if fn.routes:
        return EVENTS / backing.example(fn)[0]
    return EVENTS / SQS_EXAMPLE


def _probe(
    backing: Backing, fn: Function, calls: int, tracing: bool = False
) -> tuple[float, dict[str, Any]]:
    argv = [
        sys.executable, "-m", "benchmarks.probe", fn.module, fn.attribute,
        str(_event_file(backing, fn)), fn.logical_id, str(fn.timeout), str(calls),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(
        argv, env=_env(backing, fn, tracing), cwd=ROOT, capture_output=True, text=True, check=True
    )
    wall = (time.perf_counter() - start) * 1000
    return wall, json.loads(done.stderr.strip().splitlines()[-1])


def _floor(code: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return (time.perf_counter() - start) * 1000, done.stdout


def cold_start(backing: Backing, fn: Function, rounds: int, tracing: bool) -> ColdStart:
    _probe(backing, fn, 1, tracing)  # compiles .pyc files once, as a deployed package ships them
    walls, floors, imports, firsts, status = [], [], [], [], None
    for _ in range(rounds):
        floors.append(_floor(FLOOR)[0])
        wall, result = _probe(backing, fn, 1, tracing)
        walls.append(wall)
        imports.append(result["import_ms"])
        firsts.append(result["calls_ms"])
        status = result["status"]
    return ColdStart(
        fn.logical_id,
        tracing,
        median(walls),
        median(floors),
        median(imports),
        median(firsts),
        status,
    )


def memory(backing: Backing, fn: Function, calls: int) -> Memory:
    _, result = _probe(backing, fn, calls)
    floor_kib = int(_floor(FLOOR_RSS)[1].strip())
    return Memory(fn.logical_id, calls, result["maxrss_kib"] / 1024, floor_kib / 1024)
