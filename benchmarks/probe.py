"""Run in a fresh process by the cold-start and memory benchmarks:
`python -m benchmarks.probe MODULE ATTRIBUTE EVENT_FILE FUNCTION_NAME TIMEOUT CALLS`.
Imports the handler, invokes it CALLS times with the event, prints one JSON line (on stderr:
the handler logs on stdout) as soon as the answer is there; the parent stops its clock then.
An SQS event's envelopes get fresh ids for each invocation: a retry envelope already delivered
is acknowledged without a call, which is not the work being measured."""

from __future__ import annotations

import time

_START = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402


def fresh(event: dict[str, Any]) -> dict[str, Any]:
    """The event, with a new id in each SQS record's envelope (an HTTP event as it is)."""
    if "Records" not in event:
        return dict(event)
    records = []
    for record in event["Records"]:
        envelope = json.loads(record["body"])
        envelope["id"] = str(uuid.uuid4())
        records.append({**record, "body": json.dumps(envelope)})
    return {**event, "Records": records}


def peak_rss_kib() -> int:
    """This process's peak RSS. Not getrusage's ru_maxrss: Linux carries it over from the
    parent across fork and exec, so a small child reports its big parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    module, attribute, event_file, name, timeout, calls = sys.argv[1:7]
    handler = getattr(importlib.import_module(module), attribute)
    imported = time.perf_counter()
    from devserver.lambda_context import LambdaContext

    with open(event_file) as f:
        event = json.load(f)
    context = LambdaContext(function_name=name, timeout_seconds=int(timeout))
    results = [handler(fresh(event), context) for _ in range(int(calls))]
    done = time.perf_counter()
    first = results[0]
    print(
        json.dumps(
            {
                "import_ms": (imported - _START) * 1000,
                "calls_ms": (done - imported) * 1000,
                "status": first.get("statusCode", first),
                "maxrss_kib": peak_rss_kib(),
            }
        ),
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
