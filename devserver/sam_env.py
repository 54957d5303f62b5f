"""`--env-vars` for `sam local invoke` / `start-api`: every function's template environment with
the local runtime's values, i.e. the vendor sandboxes and the moto server on loopback and the queues
and secrets that devserver.aws_resources.provision creates there.

`python -m devserver.sam_env` (`make env-local`) writes env.local.json for the runtime's default
ports (`make run`); the sam-local tests render the same for the ports their runtime got."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

from devserver import local_config
from devserver.aws_resources import provision
from devserver.runtime import LOCAL_FUNCTION_ENV, Config
from devserver.template import ROOT, Template
from devserver.vendors.registry import SANDBOXES

ENV_FILE = ROOT / "env.local.json"
# What moto answers for account and region when nothing else is configured.
MOTO_ACCOUNT = "123456789012"
MOTO_REGION = "us-east-1"
PREFIX: str = inspect.signature(provision).parameters["prefix"].default


def local_refs(template: Template, aws_endpoint: str) -> dict[str, str]:
    """What provision() returns, without asking moto: queue URLs are
    `<endpoint>/<account>/<name>`, tables are named, and secrets go by name (GetSecretValue takes
    a name as well as the ARN, whose suffix is random)."""
    refs: dict[str, str] = {}
    for name in template.of_type("AWS::SQS::Queue"):
        queue = f"{PREFIX}-{name}"
        refs.update(
            {
                name: f"{aws_endpoint}/{MOTO_ACCOUNT}/{queue}",
                f"{name}.Arn": f"arn:aws:sqs:{MOTO_REGION}:{MOTO_ACCOUNT}:{queue}",
                f"{name}.QueueName": queue,
            }
        )
    for name in template.of_type("AWS::DynamoDB::Table"):
        table = f"{PREFIX}-{name}"
        refs.update(
            {
                name: table,
                f"{name}.Arn": f"arn:aws:dynamodb:{MOTO_REGION}:{MOTO_ACCOUNT}:table/{table}",
            }
        )
    for name in template.of_type("AWS::SecretsManager::Secret"):
        refs[name] = f"{PREFIX}/{name}"
    return refs


def default_sandbox_urls(host: str = Config.host) -> dict[str, str]:
    return {spec.name: f"http://{host}:{spec.default_port}" for spec in SANDBOXES}


def local_env(
    template: Template, aws_endpoint: str, sandbox_urls: dict[str, str]
) -> dict[str, dict[str, str]]:
    """function logical id -> its variables. SAM applies only the variables a function declares,
    so this sets each declared one (the template declares AWS_ENDPOINT_URL for that reason)."""
    refs = local_refs(template, aws_endpoint)
    # As `make run` configures its workers.
    overrides = {**LOCAL_FUNCTION_ENV, "AWS_ENDPOINT_URL": aws_endpoint}
    for spec in SANDBOXES:
        if spec.name in sandbox_urls:
            for var, suffix in spec.endpoints.items():
                overrides[var] = sandbox_urls[spec.name] + suffix
    env: dict[str, dict[str, str]] = {}
    for fn in template.functions():
        declared = template.environment(fn, refs)
        local = {**overrides, **local_config.function_env(template, fn.logical_id)}
        env[fn.logical_id] = {k: local.get(k, v) for k, v in sorted(declared.items())}
    return env


def render(env: dict[str, dict[str, str]]) -> str:
    return json.dumps(env, indent=2, sort_keys=True) + "\n"


def default_env_file() -> str:
    """env.local.json's content: the local runtime (`make run`) on its default ports."""
    aws_endpoint = f"http://{Config.host}:{Config.moto_port}"
    return render(local_env(Template(), aws_endpoint, default_sandbox_urls()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devserver.sam_env", description=__doc__)
    p.add_argument("--output", type=Path, default=ENV_FILE)
    p.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    a = p.parse_args(argv)
    content = default_env_file()
    if a.check:
        current = a.output.read_text() if a.output.exists() else ""
        if current != content:
            print(f"{a.output} is out of date: run `make env-local`", file=sys.stderr)
            return 1
        return 0
    a.output.write_text(content)
    return 0


if __name__ == "__main__":
    sys.exit(main())
