"""The counterparts every benchmark runs against: a moto server with the template's resources and
the vendor sandboxes on loopback (the local runtime's own pieces), plus each function's env."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devserver.runtime import Config, start_backing
from devserver.template import ROOT, Function, Template
from devserver.vendors.base import VendorSandbox
from devserver.vendors.registry import SANDBOXES

EVENTS = ROOT / "events"


@dataclass
class Backing:
    template: Template
    sandboxes: dict[str, VendorSandbox]
    refs: dict[str, str]
    envs: dict[str, dict[str, str]]
    state_dir: Path  # removed with the backing: scratch files go here

    def http_functions(self) -> list[Function]:
        return [fn for fn in self.template.functions() if fn.routes]

    def example(self, fn: Function, name: str | None = None) -> tuple[str, dict[str, Any]]:
        """The event `name`, by default the function's first `*-accepted.json` event (its
        route's success example)."""
        if name is not None:
            return name, json.loads((EVENTS / name).read_text())
        keys = {f"{r.method} {r.path}" for r in fn.routes}
        for path in sorted(EVENTS.glob("*-accepted.json")):
            event = json.loads(path.read_text())
            if event.get("routeKey") in keys:
                return path.name, event
        raise LookupError(f"no accepted example for {fn.logical_id}")

    def sandbox_for(self, fn: Function) -> VendorSandbox:
        """The sandbox the function's vendor endpoint points at."""
        # The template's own variables: the runtime sets every sandbox endpoint in every env.
        for spec in SANDBOXES:
            if any(var in fn.environment for var in spec.endpoints):
                return self.sandboxes[spec.name]
        raise LookupError(f"no sandbox serves {fn.logical_id}")


@contextmanager
def backing(state_dir: Path) -> Iterator[Backing]:
    config = Config(
        moto_port=0,
        sandbox_ports={spec.name: 0 for spec in SANDBOXES},
        state_dir=state_dir,
        quiet=True,
        # Metrics stay on, as in Lambda: every invocation flushes its EMF line (to the
        # worker's log, or to /dev/null in-process). Turned off, Powertools never clears the
        # metric set and formats every value kept so far on each add_metric.
    )
    template = Template()
    saved = dict(os.environ)
    try:
        with ExitStack() as stack:
            _, refs, sandboxes, envs = start_backing(config, template, stack)
            yield Backing(template, sandboxes, refs, envs, state_dir)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def lambda_environment(fn: Function, *, tracing: bool = False, root: Path = ROOT) -> dict[str, str]:
    """What the Lambda runtime sets for a function. The X-Ray SDK reads it: outside Lambda it
    acts as on a server and builds sampling clients at import (~150 ms) and fetches sampling
    rules on the first request; in Lambda it samples by the trace header Lambda passes.
    Powertools' batch utility reads it too: in Lambda it runs every batch on one event loop,
    elsewhere each batch gets a new one from asyncio.run, whose Ctrl-C handler costs more.
    `root`: the tree whose handler the process runs (another commit's for benchmarks.cold_ab)."""
    env = {
        "LAMBDA_TASK_ROOT": str(root / fn.code_uri),
        "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    }
    if tracing:  # Active tracing: Lambda passes each invocation's trace header
        env["_X_AMZN_TRACE_ID"] = (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        )
    return env
