"""The warm benchmark's timed calls run in a forked copy of the process (benchmarks.apart): the
copy has only the calling thread, so the backing's server threads, left in the parent, never
share its interpreter; its result and its failures come back to the caller."""

from __future__ import annotations

import os
import threading

import pytest

from benchmarks.apart import in_child


def test_the_work_runs_in_another_process_without_this_ones_threads() -> None:
    stop = threading.Event()
    server = threading.Thread(target=stop.wait, name="stand-in server")
    server.start()
    try:

        def work() -> dict[str, object]:
            return {
                "pid": os.getpid(),
                "threads": [t.name for t in threading.enumerate() if t.is_alive()],
            }

        result = in_child(work)
    finally:
        stop.set()
        server.join()

    assert result["pid"] != os.getpid()
    assert "stand-in server" not in result["threads"]
    assert len(result["threads"]) == 1


def test_a_failure_in_the_copy_is_raised_here_with_its_traceback() -> None:
    def work() -> None:
        raise ValueError("the sandbox answered 500")

    with pytest.raises(RuntimeError, match="the sandbox answered 500"):
        in_child(work)
