"""The local runtime: a moto server with the template's queues and secrets, the vendor sandboxes,
the functions in worker processes, the HTTP API front, and the RetryQueue poller."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from devserver import local_config
from devserver.api_server import ApiServer, bind_routes
from devserver.aws_resources import provision
from devserver.console.server import Console
from devserver.cors import CorsPolicy
from devserver.jwt_authorizer import JwtAuthorizer
from devserver.openapi import DOCUMENT as OPENAPI_DOCUMENT
from devserver.sqs_poller import SqsPoller
from devserver.template import ROOT, Template
from devserver.tls import HttpsApiServer, certificate
from devserver.vendors.base import VendorSandbox
from devserver.vendors.registry import SANDBOXES
from devserver.workers import FunctionPool, WorkerSpec

# Local defaults on top of the template: replay sooner than production's 30 s so that a user
# watching the runtime sees retries happen.
LOCAL_FUNCTION_ENV = {
    "RETRY_BACKOFF_BASE_SECONDS": "2",
    "RETRY_BACKOFF_MAX_SECONDS": "60",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_DEV": "0",
}


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 3000
    # HTTPS beside HTTP (TD's fetchPersonalization builds https:// URLs): None = 3443, or any
    # free port when `port` is 0; -1 = no HTTPS.
    https_port: int | None = None
    aws: str = "moto"  # "moto": embedded moto server; "stack:<name>": a deployed stack
    moto_port: int = 4566
    sandbox_ports: dict[str, int] = field(default_factory=dict)  # name -> port (0 = any)
    workers: int = 2
    pollers: int = 1
    overrides: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    state_dir: Path = ROOT / ".devserver"
    quiet: bool = False


@dataclass
class Running:
    api: ApiServer
    aws_endpoint: str | None
    sandboxes: dict[str, VendorSandbox]
    refs: dict[str, str]
    env: dict[str, dict[str, str]]
    log_dir: Path
    state_file: Path
    https: ApiServer | None = None

    def state(self) -> dict[str, Any]:
        return {
            "api": self.api.url,
            "api_https": self.https.url if self.https else None,
            "aws_endpoint": self.aws_endpoint,
            "sandboxes": {name: s.url for name, s in self.sandboxes.items()},
            "queues": {
                name: self.refs[name]
                for name in ("RetryQueue", "DeadLetterQueue")
                if name in self.refs
            },
            "logs": str(self.log_dir),
        }


@contextmanager
def running(config: Config) -> Iterator[Running]:
    template = Template()
    log_dir = config.state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        aws_endpoint, refs, sandboxes, envs = start_backing(config, template, stack)

        pools: dict[str, FunctionPool] = {}
        for fn in template.functions():
            pool = FunctionPool(
                WorkerSpec(fn, envs[fn.logical_id], log_dir / f"{fn.logical_id}.log"),
                size=config.workers,
            )
            stack.callback(pool.stop)
            pools[fn.logical_id] = pool

        functions = {fn.logical_id: fn for fn in template.functions()}
        routes = bind_routes({name: fn.routes for name, fn in functions.items()})
        cors = CorsPolicy.from_template(template)
        jwt = JwtAuthorizer.from_template(template)
        api = ApiServer(
            (config.host, config.port), routes, pools, cors=cors, quiet=config.quiet, jwt=jwt
        )
        https = _https_server(config, routes, pools, cors, jwt)
        run = Running(
            api, aws_endpoint, sandboxes, refs, envs, log_dir, config.state_dir / "state.json"
        )
        run.https = https
        console = Console(
            list(functions.values()),
            {name: s.url for name, s in sandboxes.items()},
            https.url if https else None,
        )
        for server in (api, https) if https else (api,):
            # The runtime's own pages (console, SDK sample) may call it across its two origins.
            server.cors = cors.also_allowing(_own_origins(api, https))
            server.admin = lambda path: _admin(run, path)
            server.console = console.handle
            server.start()
            stack.callback(server.stop)

        stop = threading.Event()
        stack.callback(stop.set)
        for fn in functions.values():
            for source in fn.sqs_sources:
                queue = source["Queue"]["Fn::GetAtt"][0]
                for n in range(config.pollers):
                    poller = SqsPoller(
                        refs[queue],
                        pools[fn.logical_id].handler,
                        batch_size=int(source.get("BatchSize", 10)),
                        function_name=fn.logical_id,
                        timeout_seconds=fn.timeout,
                    )
                    thread = threading.Thread(
                        target=_poll_forever,
                        args=(poller, stop),
                        daemon=True,
                        name=f"poller-{queue}-{n}",
                    )
                    thread.start()

        run.state_file.write_text(json.dumps(run.state(), indent=2))
        stack.callback(run.state_file.unlink, missing_ok=True)
        yield run


def _https_server(
    config: Config,
    routes: list[Any],
    pools: dict[str, FunctionPool],
    cors: CorsPolicy,
    jwt: JwtAuthorizer | None,
) -> ApiServer | None:
    port = config.https_port
    if port is None:
        port = 0 if config.port == 0 else 3443
    if port < 0:
        return None
    cert, key = certificate(config.state_dir)
    return HttpsApiServer(
        (config.host, port),
        routes,
        pools,
        cors=cors,
        quiet=config.quiet,
        jwt=jwt,
        cert=cert,
        key=key,
    )


def _own_origins(api: ApiServer, https: ApiServer | None) -> list[str]:
    origins = []
    for server in (api, https) if https else (api,):
        url = urlsplit(server.url)
        origins += [server.url, f"{url.scheme}://localhost:{url.port}"]
    return origins


def start_backing(
    config: Config, template: Template, stack: ExitStack
) -> tuple[str | None, dict[str, str], dict[str, VendorSandbox], dict[str, dict[str, str]]]:
    """What the functions run against (AWS endpoint, resources, sandboxes) and each function's
    environment: shared by the runtime and the benchmarks."""
    aws_endpoint = _start_aws(config, stack)
    refs = _resources(config, template)
    sandboxes, endpoints = _start_sandboxes(config, stack)
    envs: dict[str, dict[str, str]] = {}
    for fn in template.functions():
        env = {
            **template.environment(fn, refs),
            **LOCAL_FUNCTION_ENV,
            **local_config.function_env(template, fn.logical_id),
            "AWS_REGION": boto3.session.Session().region_name or "us-east-1",
            **endpoints,
            **config.overrides,
        }
        if aws_endpoint:
            env["AWS_ENDPOINT_URL"] = aws_endpoint
        envs[fn.logical_id] = env
    return aws_endpoint, refs, sandboxes, envs


def _start_aws(config: Config, stack: ExitStack) -> str | None:
    if config.aws != "moto":
        return None
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per AWS call
    server = ThreadedMotoServer(ip_address=config.host, port=config.moto_port, verbose=False)
    server.start()
    stack.callback(server.stop)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # This process's own clients (provisioning, the poller) talk to moto too.
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    for key, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(key, value)
    return endpoint


def _resources(config: Config, template: Template) -> dict[str, str]:
    if config.aws == "moto":
        return provision(template, secrets=config.secrets)
    stack_name = config.aws.removeprefix("stack:")
    cfn = boto3.client("cloudformation")
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    return {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}


def _start_sandboxes(
    config: Config, stack: ExitStack
) -> tuple[dict[str, VendorSandbox], dict[str, str]]:
    sandboxes: dict[str, VendorSandbox] = {}
    endpoints: dict[str, str] = {}
    for spec in SANDBOXES:
        if all(var in config.overrides for var in spec.endpoints):
            continue  # every endpoint it would play points at the real vendor
        port = config.sandbox_ports.get(spec.name, spec.default_port)
        sandbox = spec.factory(host=config.host, port=port).start()
        stack.callback(sandbox.stop)
        sandboxes[spec.name] = sandbox
        for var, suffix in spec.endpoints.items():
            endpoints[var] = sandbox.url + suffix
    return sandboxes, endpoints


def _poll_forever(poller: SqsPoller, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            if poller.poll_once(wait_seconds=1).received == 0:
                stop.wait(0.2)
        except Exception as exc:  # keep polling, as the event source mapping does
            print(f"  poller: {type(exc).__name__}: {exc}", flush=True)
            stop.wait(1)


def _admin(run: Running, path: str) -> dict[str, Any]:
    """GET /_local/status: where everything runs, queue depths, and what waits on the DLQ;
    /_local/dead-letters: the DLQ's messages; /_local/openapi.json: the API's document."""
    if path == "/_local/openapi.json":
        result: dict[str, Any] = json.loads(OPENAPI_DOCUMENT.read_text())
        return result
    sqs = boto3.client("sqs")
    queues: dict[str, Any] = {}
    for name, url in run.state()["queues"].items():
        attrs = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        queues[name] = {
            "visible": int(attrs["ApproximateNumberOfMessages"]),
            "in_flight": int(attrs["ApproximateNumberOfMessagesNotVisible"]),
        }
    if path == "/_local/dead-letters":
        return {"messages": _peek(sqs, run.refs["DeadLetterQueue"])}
    return {**run.state(), "queue_depths": queues}


def _peek(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Read the queue's messages without consuming them (visibility 0)."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(20):
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        new = [m for m in batch if m["MessageId"] not in seen]
        if not new:
            break
        for m in new:
            seen[m["MessageId"]] = {
                "body": m["Body"],
                "reason": m.get("MessageAttributes", {}).get("reason", {}).get("StringValue"),
            }
    return list(seen.values())
