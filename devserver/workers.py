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
    """The function raised or timed out (API Gateway answers 500)."""


class WorkerCrashed(InvocationError):
    """The function's process died during the invocation (API Gateway answers 502, as for a
    Lambda invocation whose runtime exited)."""


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
        self.init_failed = False  # the process exited before it was ready
        # The "ready" message is read once, by an invocation or by a health check.
        self._init_lock = threading.Lock()

    def wait_initialised(self, timeout: float = INIT_TIMEOUT_SECONDS) -> bool:
        if self.initialised:
            return True
        if not self._init_lock.acquire(timeout=max(timeout, 0)):
            return self.initialised
        try:
            if not self.initialised and self.conn.poll(timeout):
                self.initialised = self.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            self.init_failed = True
            return False
        finally:
            self._init_lock.release()
        return self.initialised

    def ready(self) -> bool:
        """Initialised and alive, without waiting."""
        return self.process.is_alive() and self.wait_initialised(timeout=0)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


class FunctionPool:
    """`size` warm processes for one function; an invocation waits for a free one."""

    def __init__(self, spec: WorkerSpec, size: int = 2) -> None:
        self.spec = spec
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._busy: set[_Worker] = set()
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
        worker.process.join(timeout=5)
        with self._lock:
            self._all.remove(worker)
        self._add()  # the pool keeps its size, as Lambda starts a new execution environment

    def _take(self) -> _Worker:
        """A free worker; one that died while idle is replaced, not handed an invocation."""
        while True:
            worker = self._idle.get()
            if worker.process.is_alive():
                return worker
            self._replace(worker)

    def invoke(self, event: dict[str, Any]) -> Any:
        worker = self._take()
        with self._lock:
            self._busy.add(worker)
        try:
            status, payload = self._invoke(worker, event)
        finally:
            with self._lock:
                self._busy.discard(worker)
        if status == "error":
            raise InvocationError(f"{payload['errorType']}: {payload['errorMessage']}")
        return payload

    def _invoke(self, worker: _Worker, event: dict[str, Any]) -> tuple[str, Any]:
        timeout = self.spec.function.timeout
        try:
            if not worker.wait_initialised():
                crashed = worker.init_failed
                self._replace(worker)
                if crashed:
                    raise WorkerCrashed("the function's process exited during its init")
                raise InvocationError(f"Init timed out after {INIT_TIMEOUT_SECONDS} seconds")
            worker.conn.send(event)
            if not worker.conn.poll(timeout):
                self._replace(worker)
                raise InvocationError(f"Task timed out after {timeout:.2f} seconds")
            status, payload = worker.conn.recv()
        except (EOFError, OSError) as exc:
            code = worker.process.exitcode
            self._replace(worker)
            raise WorkerCrashed(f"the function's process exited (code {code}): {exc}") from exc
        self._idle.put(worker)
        return status, payload

    def handler(self, event: dict[str, Any], _context: Any = None) -> Any:
        """`invoke` with a Lambda handler's signature, for an event source such as `SqsPoller`:
        the worker process makes its own Lambda context."""
        return self.invoke(event)

    def pids(self) -> list[int]:
        """The pool's live worker processes (the benchmarks read their CPU time)."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def ready(self) -> bool:
        """Every worker process alive and through its init (imports) phase."""
        with self._lock:
            workers = list(self._all)
        return bool(workers) and all(w.ready() for w in workers)

    def status(self) -> list[dict[str, Any]]:
        """Each worker process: its pid and whether an invocation runs in it."""
        with self._lock:
            return [{"pid": w.process.pid, "busy": w in self._busy} for w in self._all]

    def stop(self) -> None:
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.stop()
