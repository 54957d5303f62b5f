"""The local runtime's configuration on top of the template: what `make run`, env.local.json and
the tests' runtime use where a deployment names its own values (destinations, origins) or where
Lambda itself sets a variable (the log level of LoggingConfig)."""

from __future__ import annotations

import shlex
import tomllib
from typing import Any

from devserver.template import ROOT, Template

SAMCONFIG = ROOT / "samconfig.toml"

# The sample destinations of README's first steps and events/*.json, and the origins of a page
# served beside the runtime (plain and TLS, by name and by address).
LOCAL_ENV = {
    "POSTBACK_DESTINATIONS": "web_events.*",
    "PERSONALIZATION_DESTINATIONS": "web_p13n.*,personalization__database.*",
    "ALLOWED_ORIGINS": ",".join(
        [
            "http://127.0.0.1:3000",
            "https://127.0.0.1:3443",
            "http://localhost:3000",
            "https://localhost:3443",
        ]
    ),
}


def lambda_env(template: Template, logical_id: str) -> dict[str, str]:
    """What Lambda adds to a function's environment from its configuration: with
    LoggingConfig.ApplicationLogLevel it sets AWS_LAMBDA_LOG_LEVEL, which Powertools honours
    before POWERTOOLS_LOG_LEVEL."""
    globals_ = template.raw.get("Globals", {}).get("Function", {}).get("LoggingConfig", {})
    props = template.of_type("AWS::Serverless::Function")[logical_id]
    logging: dict[str, Any] = {**globals_, **props.get("LoggingConfig", {})}
    level = logging.get("ApplicationLogLevel")
    return {"AWS_LAMBDA_LOG_LEVEL": str(template.resolve(level, {}))} if level else {}


def function_env(template: Template, logical_id: str) -> dict[str, str]:
    """The local runtime's variables for one function, applied over the template's."""
    return {**lambda_env(template, logical_id), **LOCAL_ENV}


def samconfig_parameters(config_env: str = "default") -> dict[str, str]:
    """The parameter overrides of one samconfig.toml environment's deploy (`default` = dev)."""
    config = tomllib.loads(SAMCONFIG.read_text())
    text = config.get(config_env, {}).get("deploy", {}).get("parameters", {})
    pairs = (item.partition("=") for item in shlex.split(text.get("parameter_overrides", "")))
    return {name: value for name, _, value in pairs}
