"""What a cold start imports: Powertools' batch utility builds every parser model (~40 ms) when
pydantic is already imported before it, and the gateway never uses them; RetryFunction avoids
it by importing the batch utility first. A fresh interpreter shows what a cold start loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devserver.template import PYTHONPATH, ROOT, Function, Template

PARSER_MODELS = "aws_lambda_powertools.utilities.parser.models"


@pytest.mark.parametrize("fn", Template().functions(), ids=lambda fn: fn.logical_id)
def test_a_cold_start_does_not_build_powertools_parser_models(fn: Function) -> None:
    code = f"import sys, json, {fn.module}; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout

    assert PARSER_MODELS not in json.loads(out.splitlines()[-1])
