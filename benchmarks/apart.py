"""Timed calls in a process of their own. The backing (moto and the vendor sandboxes) serves from
threads of the benchmark's process: a handler timed in that process shares its interpreter lock
with them, which no Lambda function does, since its vendors and AWS answer from other machines.
A forked copy has the warm handler, its clients and pooled connections, and only the calling
thread: the backing goes on answering from the parent. (The two still share this machine's
cores: pinning each to a core of its own moved no route beyond its spread.)"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any


def in_child(work: Callable[[], Any]) -> Any:
    """`work()` run in a forked copy of this process; its result (as JSON) back here."""
    sys.stdout.flush()
    sys.stderr.flush()  # else the copy writes this process's buffered output a second time
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the copy: it never returns into the caller's code
        os.close(read)
        code = 0
        try:
            payload = json.dumps([True, work()])
        except BaseException:
            payload, code = json.dumps([False, traceback.format_exc()]), 1
        with os.fdopen(write, "w") as out:
            out.write(payload)
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as result:
        ok, value = json.load(result)
    os.waitpid(pid, 0)
    if not ok:
        raise RuntimeError(f"the timed calls failed in their process:\n{value}")
    return value
