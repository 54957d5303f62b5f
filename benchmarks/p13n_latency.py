"""What the warm PersonalizationFunction adds over calling TD directly.

Everything in-process on loopback: a moto server with the template's queues and secrets, the TD
personalization sandbox, and the real handler. The same event goes to the sandbox through the
handler and through a plain pooled `requests` session with the document's headers, interleaved so
that both see the same machine load. Prints a Markdown table of p50/p99 and writes it, with the
raw samples, under benchmarks/results/.

    .venv/bin/python -m benchmarks.p13n_latency [--requests 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
# The layer is importable as in Lambda (/opt/python/gateway).
sys.path.insert(0, str(ROOT / "layers" / "clients"))
ROUTE_PATH = "/v1/personalization/{database}/{table}"
DATABASE, TABLE = "bench_p13n", "page_views"

# Offline AWS before boto3 is imported anywhere; no tracing daemon.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "ActivationGateway",
        "POWERTOOLS_SERVICE_NAME": "personalization-benchmark",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_PROFILE", None)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def run(requests_per_path: int) -> dict[str, list[float]]:
    import requests
    from moto.server import ThreadedMotoServer

    from devserver.apigw_event import event_for
    from devserver.aws_resources import SANDBOX_SECRETS, provision
    from devserver.lambda_context import LambdaContext
    from devserver.template import Route, Template
    from devserver.vendors.td_personalization import TdPersonalizationSandbox

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    sandbox = TdPersonalizationSandbox().start()
    try:
        host, port = moto.get_host_and_port()
        os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
        template = Template()
        refs = provision(template)
        fn = template.function("PersonalizationFunction")
        os.environ.update(template.environment(fn, refs))
        os.environ["TD_P13N_ENDPOINT"] = sandbox.url
        handler = getattr(importlib.import_module(fn.module), fn.attribute)

        event_body = {"td_client_id": "c-bench", "time": 1764000000, "uuid": "bench-uuid"}
        event = event_for(
            Route("POST", ROUTE_PATH),
            path_parameters={"database": DATABASE, "table": TABLE},
            headers={"content-type": "application/json"},
            body=json.dumps(event_body),
        )
        context = LambdaContext(function_name=fn.logical_id, timeout_seconds=fn.timeout)
        secret = SANDBOX_SECRETS["TreasureDataSecret"]
        direct = requests.Session()
        url = f"{sandbox.url}/{DATABASE}/{TABLE}"
        headers = {
            "Content-Type": "application/vnd.treasuredata.v1+json",
            "WP13n-Token": secret["wp13n_token"],
            "Authorization": f"TD1 {secret['api_key']}",
        }
        payload = json.dumps(event_body, separators=(",", ":")).encode()

        def via_handler() -> None:
            # EMF metrics are printed per invocation, as in Lambda; not onto the terminal.
            with contextlib.redirect_stdout(io.StringIO()):
                response = handler(event, context)
            assert response["statusCode"] == 204, response

        def via_direct() -> None:
            response = direct.post(url, data=payload, headers=headers, timeout=5)
            assert response.status_code == 204, response.text

        for _ in range(30):  # warm: secret cached, connections pooled, code paths imported
            via_handler()
            via_direct()
        samples: dict[str, list[float]] = {"handler": [], "direct": []}
        for _ in range(requests_per_path):
            samples["handler"].append(timed(via_handler))
            samples["direct"].append(timed(via_direct))
        return samples
    finally:
        sandbox.stop()
        moto.stop()


def report(samples: dict[str, list[float]]) -> str:
    handler, direct = samples["handler"], samples["direct"]
    rows = [
        ("warm handler -> sandbox", handler),
        ("direct call -> sandbox", direct),
    ]
    lines = [
        f"PersonalizationFunction, warm, in-process, loopback sandbox; {len(handler)} calls each, "
        "interleaved. A shared machine: compare the two rows of one run, not runs.",
        "",
        "| path | p50 ms | p99 ms | mean ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, values in rows:
        lines.append(
            f"| {name} | {percentile(values, 50):.2f} | {percentile(values, 99):.2f} "
            f"| {statistics.fmean(values):.2f} |"
        )
    lines.append(
        f"| **added by the gateway** | {percentile(handler, 50) - percentile(direct, 50):.2f} "
        f"| {percentile(handler, 99) - percentile(direct, 99):.2f} "
        f"| {statistics.fmean(handler) - statistics.fmean(direct):.2f} |"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1000, help="calls per path")
    args = parser.parse_args()
    samples = run(args.requests)
    table = report(samples)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "p13n_latency.md").write_text(table)
    (RESULTS / "p13n_latency.raw.json").write_text(json.dumps(samples))


if __name__ == "__main__":
    main()
