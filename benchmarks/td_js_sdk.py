"""Throughput of the TD JS SDK route on the local runtime, delivered by each of TD's two write
APIs (TD_JS_SDK_API=postback: one Postback call per event; ingest: one Data Ingestion API call per
request): requests/s, events/s and TD calls per event, for the SDK's one-event requests and for
10-event batches, with the TD sandbox answering at once and after 20 ms (a TD round trip from
Lambda), beside the postback route.

The whole runtime on free loopback ports (moto, the sandboxes, the functions in their worker
processes, the HTTP front), driven over HTTP by a few client threads; a `make bench` stage
(benchmarks/REPORT.md), or alone:

    PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks.td_js_sdk [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from devserver.runtime import Config, Running, running
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
APIS = ("postback", "ingest")
LATENCIES_MS = (0, 20)


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


@contextmanager
def runtime(td_api: str) -> Iterator[Running]:
    """The local runtime on free ports, its SDK route delivering by `td_api`."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            port=0,
            https_port=-1,
            moto_port=0,
            sandbox_ports={spec.name: 0 for spec in SANDBOXES},
            overrides={"TD_JS_SDK_API": td_api},
            state_dir=Path(tmp),
            quiet=True,
        )
        with running(config) as run_:
            yield run_


def measure(count: int = 300) -> list[dict[str, Any]]:
    """Every scenario under each TD write API and sandbox latency (the postback route once per
    latency: the SDK setting does not touch it)."""
    rows: list[dict[str, Any]] = []
    for td_api in APIS:
        with runtime(td_api) as run_:
            td = run_.sandboxes["td-postback"].url
            for latency in LATENCIES_MS:
                requests.post(f"{td}/_sandbox/latency", json={"latency_ms": latency}, timeout=10)
                for scenario in SCENARIOS:
                    if td_api != APIS[0] and not scenario.sdk:
                        continue
                    row = run(run_.api.url, td, scenario, count)
                    rows.append({**row, "td_api": td_api if scenario.sdk else "postback",
                                 "latency_ms": latency})  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]], count: int) -> str:
    lines = [
        f"{count} requests per scenario from {CLIENTS} client threads over HTTP, after "
        f"{WARM_UP} warm-up requests; the local runtime with 2 workers per function. TD API: "
        "how the SDK route delivers (TD_JS_SDK_API); TD latency: the sandbox's added answer time.",
        "",
        "| scenario | TD API | TD latency ms | requests/s | events/s | TD calls per event |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {r['scenario']} | {r['td_api']} | {r['latency_ms']} | {r['requests_per_s']:.0f} "
            f"| {r['events_per_s']:.0f} | {r['td_calls_per_event']:.2f} |"
            for r in rows
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per scenario")
    args = parser.parse_args()
    text = table(measure(args.requests), args.requests)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "td_js_sdk.md").write_text(text)


if __name__ == "__main__":
    main()
