"""The benchmark suite still runs end to end (tiny sizes) and its figures are about real work:
every function answered its example, every queued envelope was delivered once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devserver.template import ROOT, Template


@pytest.mark.slow
def test_quick_benchmark_run_measures_every_function(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers' / 'clients'}"}
    env.pop("AWS_ENDPOINT_URL", None)
    subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path), "--label", "smoke"],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip

    results = json.loads((tmp_path / "results" / "smoke.json").read_text())
    functions = {fn.logical_id for fn in Template().functions()}
    assert {c["function"] for c in results["cold_start"]} == functions
    assert {m["function"] for m in results["memory"]} == functions
    for cold in results["cold_start"]:
        assert cold["status"] in (200, 204, {"batchItemFailures": []}), cold
    for warm in results["warm"]:
        assert 200 <= warm["status"] < 300, warm
    drain = results["drain"]
    assert drain["delivered"] == drain["envelopes"]
    # Not asserted to be 0: SQS is at-least-once, and moto's receive is not atomic across
    # concurrent pollers, so the same envelope may go to two batches; the report counts them.
    assert drain["duplicates"] < drain["envelopes"] // 10
    assert drain["peak_in_flight"] > drain["pollers"]  # a batch's items went out concurrently
    assert results["layer"]["mib"] > 0
    assert (tmp_path / "report.png").stat().st_size > 0
    assert "## 3. Retry drain" in (tmp_path / "REPORT.md").read_text()
