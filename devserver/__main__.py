"""`python -m devserver` (what `make run` starts): the whole gateway on loopback."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from devserver.runtime import Config, Running, running
from devserver.template import ROOT, Template

EVENTS = ROOT / "events"


def parse_args(argv: list[str] | None = None) -> Config:
    p = argparse.ArgumentParser(prog="python -m devserver", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default loopback)")
    p.add_argument("--port", type=int, default=3000, help="API port (0: any free port)")
    p.add_argument(
        "--https-port",
        type=int,
        default=None,
        help="HTTPS port of the same API, with a self-signed certificate made on first start "
        "(default 3443, any free port when --port is 0; -1: no HTTPS)",
    )
    p.add_argument(
        "--aws",
        default="moto",
        metavar="moto|stack:NAME",
        help="moto: embedded moto server (default); stack:NAME: the queues and "
        "secrets of a deployed stack, with your AWS profile/region",
    )
    p.add_argument("--moto-port", type=int, default=4566)
    p.add_argument(
        "--sandbox-port",
        action="append",
        default=[],
        metavar="NAME=PORT",
        help="port of a vendor sandbox (td-postback=4010, ...; 0: any)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="function environment override, e.g. "
        "TD_POSTBACK_ENDPOINT=https://us01.records.in.treasuredata.com",
    )
    p.add_argument("--env-file", type=Path, help="KEY=VALUE lines, as --set")
    p.add_argument(
        "--secrets-file",
        type=Path,
        help='JSON {"TreasureDataSecret": {...}} seeded into moto instead of the '
        "sandbox credentials",
    )
    p.add_argument("--workers", type=int, default=2, help="processes per function")
    p.add_argument(
        "--pollers",
        type=int,
        help="RetryQueue pollers (default: the event source's MaximumConcurrency, which caps "
        "the invocations in flight whatever this is)",
    )
    p.add_argument("--state-dir", type=Path, default=ROOT / ".devserver")
    p.add_argument("--quiet", action="store_true", help="no access log lines")
    a = p.parse_args(argv)
    overrides: dict[str, str] = {}
    if a.env_file:
        lines = a.env_file.read_text().splitlines()
        overrides.update(_pairs([ln for ln in lines if ln.strip() and not ln.startswith("#")]))
    overrides.update(_pairs(a.set))
    return Config(
        host=a.host,
        port=a.port,
        https_port=a.https_port,
        aws=a.aws,
        moto_port=a.moto_port,
        sandbox_ports={k: int(v) for k, v in _pairs(a.sandbox_port).items()},
        workers=a.workers,
        pollers=a.pollers,
        overrides=overrides,
        secrets=json.loads(a.secrets_file.read_text()) if a.secrets_file else {},
        state_dir=a.state_dir,
        quiet=a.quiet,
    )


def _pairs(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def example_bodies() -> dict[str, str]:
    """routeKey -> a body from events/ that the route accepts (the *-accepted.json files)."""
    bodies: dict[str, str] = {}
    for path in sorted(EVENTS.glob("*.json")):
        event: dict[str, Any] = json.loads(path.read_text())
        key = event.get("routeKey")
        usable = event.get("body") and not event.get("isBase64Encoded")
        if key and usable and (key not in bodies or "accepted" in path.name):
            bodies[key] = event["body"]
    return bodies


def banner(run: Running) -> str:
    bodies = example_bodies()
    lines = [f"Activation Gateway local runtime on {run.api.url}"]
    if run.https:
        lines.append(
            f"  and {run.https.url} (certificate {run.log_dir.parent / 'tls' / 'cert.pem'})"
        )
    lines += [f"Web console: {run.api.url}/", "", "Routes:"]
    for fn in Template().functions():
        for route in fn.routes:
            auth = " (AWS_IAM in AWS; accepted unsigned here)" if route.auth == "AWS_IAM" else ""
            lines.append(f"  {route.method:6} {route.path}  -> {fn.logical_id}{auth}")
            path = (
                route.path.replace("{database}", "web_events")
                .replace("{table}", "pageviews")
                .replace("{userId}", "user-123")
            )
            body = bodies.get(f"{route.method} {route.path}", "{}")
            lines.append(
                f"    curl -sS -X {route.method} {run.api.url}{path} "
                f"-H 'content-type: application/json' -d {shlex.quote(body)}"
            )
    lines += [
        "",
        'Vendor sandboxes (faults: POST <url>/_sandbox/faults \'{"status":503,'
        '"count":3}\'; what arrived: GET <url>/_sandbox/received):',
    ]
    lines += [f"  {name:14} {sandbox.url}" for name, sandbox in run.sandboxes.items()]
    lines += [
        "",
        f"AWS (SQS, Secrets Manager, DynamoDB): {run.aws_endpoint or 'your AWS account'}",
        f"Queues and DLQ: GET {run.api.url}/_local/status, GET {run.api.url}/_local/dead-letters",
        f"Ready when GET {run.api.url}/_local/health answers 200",
        f"Function logs: {run.log_dir}/<Function>.log",
        f"State (URLs as JSON): {run.state_file}",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        with running(config) as run:
            print(banner(run), flush=True)
            stop.wait()
            print("\nstopping...", flush=True)
    except OSError as exc:
        print(
            f"devserver: {exc} (is another runtime on these ports? see --port, --moto-port, "
            f"--sandbox-port)",
            file=sys.stderr,
        )
        return 1
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
