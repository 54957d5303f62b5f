"""What a cold start imports: Powertools' batch utility builds every parser model (~40 ms) when
pydantic is already imported before it, and the gateway never uses them; RetryFunction avoids
it by importing the batch utility first. A fresh interpreter shows what a cold start loads,
and what it leaves for the garbage collector to walk."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devserver.template import PYTHONPATH, ROOT, Function, Template

PARSER_MODELS = "aws_lambda_powertools.utilities.parser.models"


def _fresh(code: str) -> str:
    """The last line that `code` prints in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()[-1]


@pytest.mark.parametrize("fn", Template().functions(), ids=lambda fn: fn.logical_id)
def test_a_cold_start_does_not_build_powertools_parser_models(fn: Function) -> None:
    code = f"import sys, json, {fn.module}; print(json.dumps(sorted(sys.modules)))"

    assert PARSER_MODELS not in json.loads(_fresh(code))


def test_the_heap_is_frozen_once_powertools_is_set_up() -> None:
    # Frozen objects are walked by no collection: a full one walks generations 0-2 only.
    code = "import gc, gateway.core.observability; print(gc.get_freeze_count())"

    assert int(_fresh(code)) > 10_000


@pytest.mark.parametrize("fn", Template().functions(), ids=lambda fn: fn.logical_id)
def test_the_init_heap_is_frozen_at_the_end_of_init(fn: Function) -> None:
    counts = "[gc.get_freeze_count(), len(gc.get_objects())]"
    code = f"import gc, json, {fn.module}; print(json.dumps({counts}))"
    frozen, walked = json.loads(_fresh(code))

    assert frozen > 10_000  # the imports' objects
    assert walked < 1_000  # a few left to walk
