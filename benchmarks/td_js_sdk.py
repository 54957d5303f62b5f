"""Throughput of the TD JS SDK route on the local runtime: requests/s, events/s and TD calls
per event, for the SDK's one-event requests and for 10-event batches, beside the postback route.

The whole runtime on free loopback ports (moto, the sandboxes, the functions in their worker
processes, the HTTP front), driven over HTTP by a few client threads. About 30 s.

    PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks.td_js_sdk [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devserver.runtime import Config, running
from devserver.template import ROOT
from devserver.vendors.registry import SANDBOXES

RESULTS = ROOT / "benchmarks" / "results"
CLIENTS = 4
WARM_UP = 20
SDK_TYPE = "application/vnd.treasuredata.v1+json"


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    events: int  # per request
    sdk: bool

    def body(self, n: int) -> bytes:
        records = [
            {"n": n, "i": i, "td_url": "https://www.example.com/"} for i in range(self.events)
        ]
        return json.dumps({"events": records} if self.sdk else records[0]).encode()


SCENARIOS = [
    Scenario(
        "/v1/td, 1 event a request (what td-js-sdk sends)", "/v1/td/web_events/bench", 1, True
    ),
    Scenario("/v1/td, 10 events a request", "/v1/td/web_events/bench", 10, True),
    Scenario("/v1/postback, 1 record a request", "/v1/postback/web_events/bench", 1, False),
]


def run(api: str, td_sandbox: str, scenario: Scenario, count: int) -> dict[str, Any]:
    headers = {"Content-Type": SDK_TYPE if scenario.sdk else "application/json"}
    session = requests.Session()

    def post(n: int) -> int:
        return session.post(
            api + scenario.path, data=scenario.body(n), headers=headers, timeout=30
        ).status_code

    for n in range(WARM_UP):
        post(n)
    before = requests.get(f"{td_sandbox}/_sandbox/received", timeout=10).json()["requests"]
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = list(pool.map(post, range(count)))
    seconds = time.perf_counter() - started
    after = requests.get(f"{td_sandbox}/_sandbox/received", timeout=10).json()["requests"]
    assert set(statuses) == {200}, sorted(set(statuses))
    return {
        "scenario": scenario.name,
        "requests_per_s": count / seconds,
        "events_per_s": count * scenario.events / seconds,
        "td_calls_per_event": (after - before) / (count * scenario.events),
    }


def table(rows: list[dict[str, Any]], count: int) -> str:
    lines = [
        f"{count} requests per scenario from {CLIENTS} client threads over HTTP, after "
        f"{WARM_UP} warm-up requests; the local runtime with 2 workers per function.",
        "",
        "| scenario | requests/s | events/s | TD calls per event |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {r['scenario']} | {r['requests_per_s']:.0f} | {r['events_per_s']:.0f} "
            f"| {r['td_calls_per_event']:.2f} |"
            for r in rows
        ),
        "",
        "TD's Data Ingestion API would take one call per request instead (1.00 per event for the "
        "SDK's one-event requests, 0.10 for 10-event batches); no sandbox plays it, so that "
        "column is by its design, not measured.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            port=0,
            https_port=-1,
            moto_port=0,
            sandbox_ports={spec.name: 0 for spec in SANDBOXES},
            state_dir=Path(tmp),
            quiet=True,
        )
        with running(config) as run_:
            td = run_.sandboxes["td-postback"].url
            rows = [run(run_.api.url, td, s, args.requests) for s in SCENARIOS]
    text = table(rows, args.requests)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "td_js_sdk.md").write_text(text)


if __name__ == "__main__":
    main()
