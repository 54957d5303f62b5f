"""Function workers: each function runs in processes of its own, as in Lambda: its CodeUri and
the layer on sys.path (/var/task and /opt/python), its own environment, one invocation at a
time per process, its logs in a file, and a fresh process after a timeout or a crash."""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing as mp
import os
import queue
import sys
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from devserver.lambda_context import LambdaContext
from devserver.template import LAYER_DIR, ROOT, Function

_SPAWN = mp.get_context("spawn")
# Lambda's init phase (imports) is not part of the function's timeout; on a loaded machine
# several workers importing at once take a while, so their init gets a generous bound of its own.
INIT_TIMEOUT_SECONDS = 60


class InvocationError(Exception):
    """The function raised, crashed or timed out (API Gateway answers 500)."""


@dataclass(frozen=True)
class WorkerSpec:
    function: Function
    env: dict[str, str]
    log_path: Path


def _worker_main(spec: WorkerSpec, conn: Connection) -> None:
    log = open(spec.log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    os.environ.update(spec.env)
    sys.path[:0] = [str(ROOT / spec.function.code_uri), str(LAYER_DIR)]
    module_name, attribute = spec.function.handler.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), attribute)
    conn.send(("ready", None))
    while True:
        event = conn.recv()
        if event is None:
            return
        context = LambdaContext(
            function_name=spec.function.logical_id, timeout_seconds=spec.function.timeout
        )
        try:
            conn.send(("ok", handler(event, context)))
        except Exception as exc:
            traceback.print_exc()
            conn.send(("error", {"errorType": type(exc).__name__, "errorMessage": str(exc)}))


class _Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(
            target=_worker_main,
            args=(spec, child),
            daemon=True,
            name=f"fn-{spec.function.logical_id}",
        )
        self.process.start()
        child.close()
        self.initialised = False

    def wait_initialised(self) -> bool:
        if not self.initialised and self.conn.poll(INIT_TIMEOUT_SECONDS):
            self.initialised = self.conn.recv()[0] == "ready"
        return self.initialised

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()


class FunctionPool:
    """`size` warm processes for one function; an invocation waits for a free one."""

    def __init__(self, spec: WorkerSpec, size: int = 2) -> None:
        self.spec = spec
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        for _ in range(size):
            self._add()

    def _add(self) -> None:
        worker = _Worker(self.spec)
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.process.kill()
        with self._lock:
            self._all.remove(worker)
        self._add()

    def invoke(self, event: dict[str, Any]) -> Any:
        worker = self._idle.get()
        timeout = self.spec.function.timeout
        try:
            if not worker.wait_initialised():
                self._replace(worker)
                raise InvocationError(f"Init timed out after {INIT_TIMEOUT_SECONDS} seconds")
            worker.conn.send(event)
            if not worker.conn.poll(timeout):
                self._replace(worker)
                raise InvocationError(f"Task timed out after {timeout:.2f} seconds")
            status, payload = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self._replace(worker)
            raise InvocationError(f"the function's process exited: {exc}") from exc
        self._idle.put(worker)
        if status == "error":
            raise InvocationError(f"{payload['errorType']}: {payload['errorMessage']}")
        return payload

    def handler(self, event: dict[str, Any], _context: Any = None) -> Any:
        """`invoke` with a Lambda handler's signature, for an event source such as `SqsPoller`:
        the worker process makes its own Lambda context."""
        return self.invoke(event)

    def pids(self) -> list[int]:
        """The pool's live worker processes (the benchmarks read their CPU time)."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def stop(self) -> None:
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.stop()
