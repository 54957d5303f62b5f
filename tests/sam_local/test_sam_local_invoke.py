"""`sam local invoke <Function> -e events/<file>.json` for every file in events/, in the stand-in
Lambda container, against the sandboxes and moto on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.conftest import EVENTS, ROOT
from tests.integration.test_events import EXPECTED
from tests.sam_local.conftest import SAM, SAM_ENV, LocalStack, assert_no_secret

pytestmark = pytest.mark.slow


def sam_local_invoke(stack: LocalStack, function: str, event_file: str) -> Any:
    result = subprocess.run(
        [SAM, "local", "invoke", function, "-e", str(EVENTS / event_file), *stack.sam_args],
        cwd=ROOT,
        env=SAM_ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert_no_secret(result.stdout, result.stderr)
    # stdout is the function's response (logs go to stderr).
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("event_file", sorted(EXPECTED))
def test_sam_local_invoke(local_stack: LocalStack, event_file: str) -> None:
    function, expected = EXPECTED[event_file]
    calls_before = local_stack.vendor_calls()

    response = sam_local_invoke(local_stack, function, event_file)

    if not isinstance(expected, int):
        assert response == expected
        return
    assert response["statusCode"] == expected, response
    if expected >= 400:
        assert json.loads(response["body"])["code"]
    else:
        # The container reached a vendor sandbox on loopback.
        assert local_stack.vendor_calls() > calls_before
