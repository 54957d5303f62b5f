"""LogLevel=DEBUG (samconfig's dev deploy) reaches a handler's log: the local runtime builds the
function's environment from the template with those parameter values, adds what Lambda adds for
LoggingConfig.ApplicationLogLevel (AWS_LAMBDA_LOG_LEVEL), and the handler runs in a worker
process as `make run` runs it, with the layer's Powertools logger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devserver import local_config
from devserver.sam_env import local_refs
from devserver.template import Function, Template
from devserver.workers import FunctionPool, WorkerSpec

HANDLER = """
from gateway.core.observability import instrumented, logger


@instrumented(correlation_id_path=None)
def lambda_handler(event, context):
    logger.debug("debug detail", extra={"step": "parsed"})
    logger.info("info line")
    return {"ok": True}
"""


def _log_lines(parameters: dict[str, str], tmp_path: Path) -> list[dict[str, Any]]:
    template = Template(parameters=parameters)
    declared = template.function("PostbackFunction")
    code = tmp_path / "code"
    code.mkdir()
    (code / "debug_app.py").write_text(HANDLER)
    fn = Function(
        logical_id=declared.logical_id,
        code_uri=str(code),
        handler="debug_app.lambda_handler",
        timeout=declared.timeout,
        environment=declared.environment,
    )
    env = {
        **template.environment(declared, local_refs(template, "http://127.0.0.1:9")),
        **local_config.function_env(template, declared.logical_id),
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    log = tmp_path / "PostbackFunction.log"
    pool = FunctionPool(WorkerSpec(fn, env, log), size=1)
    try:
        assert pool.invoke({"version": "2.0"}) == {"ok": True}
    finally:
        pool.stop()
    lines = []
    for line in log.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


@pytest.mark.parametrize(
    ("config_env", "debug_expected"), [("default", True), (None, False)], ids=["dev", "defaults"]
)
def test_debug_lines_follow_the_log_level(
    tmp_path: Path, config_env: str | None, debug_expected: bool
) -> None:
    parameters = local_config.samconfig_parameters(config_env) if config_env else {}
    assert parameters.get("LogLevel", "INFO") == ("DEBUG" if debug_expected else "INFO")
    lines = _log_lines(parameters, tmp_path)
    messages = {(line.get("level"), line.get("message")) for line in lines}
    assert ("INFO", "info line") in messages
    assert (("DEBUG", "debug detail") in messages) is debug_expected
    debug = [line for line in lines if line.get("message") == "debug detail"]
    if debug_expected:
        assert debug[0]["service"] == "postback"
        assert debug[0]["step"] == "parsed"


def test_lambda_sets_its_log_level_variable_from_logging_config() -> None:
    for level in ("DEBUG", "WARN", "ERROR"):
        template = Template(parameters={"LogLevel": level})
        env = local_config.function_env(template, "RetryFunction")
        assert env["AWS_LAMBDA_LOG_LEVEL"] == level
        declared = template.function("RetryFunction")
        resolved = template.environment(declared, local_refs(template, "http://127.0.0.1:9"))
        assert resolved["POWERTOOLS_LOG_LEVEL"] == level
