"""The benchmark suite still runs end to end (tiny sizes) and its figures are about real work:
every function answered its example, every queued envelope was delivered once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devserver.template import PYTHONPATH, ROOT, Template


@pytest.mark.slow
def test_quick_benchmark_run_measures_every_function(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    env.pop("AWS_ENDPOINT_URL", None)
    subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path), "--label", "smoke"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=1800,  # a hang guard
    )  # fmt: skip

    results = json.loads((tmp_path / "results" / "smoke.json").read_text())
    functions = {fn.logical_id for fn in Template().functions()}
    assert {c["function"] for c in results["cold_start"]} == functions
    assert {m["function"] for m in results["memory"]} == functions
    for cold in results["cold_start"]:
        assert cold["status"] in (200, 204, {"batchItemFailures": []}), cold
    for warm in results["warm"]:
        assert 200 <= warm["status"] < 300, warm
        assert warm["new_connections"] in (0, None), warm  # connections reused
        assert warm["floor_p50_ms"] > 0, warm  # the warm work floor answered as the handler did
    # The canned CPU run measured every warm route, with nothing reaching the sandbox.
    assert [c["example"] for c in results["warm_cpu"]] == [w["example"] for w in results["warm"]]
    for cpu in results["warm_cpu"]:
        assert cpu["sandbox_requests"] == 0, cpu
        assert cpu["direct_p50_us"] > 0, cpu
    assert "### 2b. The same warm calls" in (tmp_path / "REPORT.md").read_text()
    # Each measured call is replayed direct: Rokt's cache hit is a DynamoDB read, not a call.
    sent = {w["example"]: w["sent"] for w in results["warm"]}
    assert sent["rokt-experiences-accepted.json"] == ["dynamodb GetItem"]
    assert sent["rokt-experiences-uncached.json"] == ["POST /v2/partner/experiences"]
    assert sent["postback-accepted.json"] == ["POST /postback/v3/event/web_events/pageviews"]
    drain = results["drain"]
    for run in (drain["gateway"], drain["floor"]):
        assert (run["delivered"], run["duplicates"]) == (drain["envelopes"], 0), run
    # A batch's items went out concurrently (all of them at once: test_retry_function).
    assert drain["gateway"]["peak_in_flight"] > drain["pollers"]
    assert set(drain["sqs_receive_ms"]) == {"10", "100"}  # the quick run's queue lengths
    assert results["layer"]["mib"] > 0
    assert (tmp_path / "report.png").stat().st_size > 0
    assert "## 3. Retry drain" in (tmp_path / "REPORT.md").read_text()
    # The SDK route under both TD write APIs: calls per event as each API makes them.
    calls = {(r["td_api"], r["scenario"]): r["td_calls_per_event"] for r in results["td_js_sdk"]}
    batch = "/v1/td, 10 events a request"
    assert calls[("postback", batch)] == 1.0
    assert calls[("ingest", batch)] == pytest.approx(0.1)
    assert "## 6. The TD JS SDK route" in (tmp_path / "REPORT.md").read_text()
    # The floors did the work: each work floor replayed calls, and the Lambda-like venv is the
    # layer's lock alone.
    for cold in results["cold_start"]:
        assert cold["work_floor_ms"] > 0, cold
        assert cold["work_ratio"] > 0, cold
    assert {m["function"] for m in results["memory"] if m["work_floor_rss_mib"] > 0} == functions
    assert {i["library"] for i in results["imports"]} >= {"boto3", "requests", "pydantic"}
    venv = {p.split("==")[0].lower().replace("_", "-") for p in results["lambda_venv"]}
    assert "aws-lambda-powertools" in venv
    assert not venv & {"moto", "aws-sam-cli", "awscrt", "pytest"}
    # Routes measured warm include the TD JS SDK's two.
    assert {"td-js-sdk-addrecord-accepted.json", "personalization-public-accepted.json"} <= set(
        sent
    )
    # The cost of safety: one delivery-state call for the ordered kinds' writes, none for TD's.
    state = {(c["kind"], c["path"]): c["state_calls"] for c in results["safety"]}
    assert state[("rr.opt_out", "first attempt")] == 1
    assert state[("rr.content (PATCH)", "first attempt")] == 1
    assert state[("td.postback", "first attempt")] == 0
    assert state[("td.postback", "replay")] == 0
    assert state[("rr.opt_out", "replay, batch of 10")] == pytest.approx(0.1)  # one read a batch
