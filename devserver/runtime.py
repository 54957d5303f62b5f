"""The local runtime: a moto server with the template's queues and secrets, the vendor sandboxes,
the functions in worker processes, the HTTP API front, and the RetryQueue poller."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import urllib.request
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
from devserver.sqs_poller import EventSourceMapping
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
    pollers: int | None = None  # per SQS event source; None: its MaximumConcurrency
    overrides: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    state_dir: Path = ROOT / ".devserver"
    quiet: bool = False


@dataclass
class Running:
    api: ApiServer
    pools: dict[str, FunctionPool]
    mappings: list[EventSourceMapping]
    aws_endpoint: str | None
    sandboxes: dict[str, VendorSandbox]
    refs: dict[str, str]
    env: dict[str, dict[str, str]]
    log_dir: Path
    state_file: Path
    https: ApiServer | None = None

    def state(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "api": self.api.url,
            "api_https": self.https.url if self.https else None,
            "health": f"{self.api.url}/_local/health",
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
    state_file = config.state_dir / "state.json"
    state_file.unlink(missing_ok=True)  # an earlier run's, naming ports that are gone
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
        mappings: list[EventSourceMapping] = []
        run = Running(
            api, pools, mappings, aws_endpoint, sandboxes, refs, envs, log_dir, state_file
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

        for fn in functions.values():
            for source in fn.sqs_sources:
                max_concurrency = template.max_concurrency(source)
                mapping = EventSourceMapping(
                    refs[source["Queue"]["Fn::GetAtt"][0]],
                    pools[fn.logical_id].handler,
                    max_concurrency=max_concurrency,
                    pollers=config.pollers or max_concurrency,
                    batch_size=int(source.get("BatchSize", 10)),
                    function_name=fn.logical_id,
                    timeout_seconds=fn.timeout,
                ).start()
                stack.callback(mapping.stop)
                mappings.append(mapping)

        write_state(run.state_file, run.state())
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


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Write the whole file beside its place, then rename it there: whoever polls for the file
    reads all of it or nothing, never a part."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as tmp:
        tmp.write(json.dumps(state, indent=2))
    os.replace(tmp.name, path)


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


def _admin(run: Running, path: str) -> tuple[int, Any]:
    """GET /_local/status: where everything runs, queue depths, workers and pollers;
    /_local/health: 200 once everything is ready, else 503; /_local/dead-letters: the DLQ's
    messages; /_local/openapi.json: the API's document."""
    if path == "/_local/openapi.json":
        return 200, json.loads(OPENAPI_DOCUMENT.read_text())
    if path == "/_local/health":
        return _health(run)
    sqs = boto3.client("sqs")
    if path == "/_local/dead-letters":
        return 200, {"messages": _peek(sqs, run.refs["DeadLetterQueue"])}
    if path != "/_local/status":
        return 404, {"message": "Not Found"}
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
    functions = {name: {"workers": pool.status()} for name, pool in run.pools.items()}
    pollers = [mapping.status() for mapping in run.mappings]
    return 200, {
        **run.state(),
        "queue_depths": queues,
        "functions": functions,
        "event_sources": pollers,
    }


def _health(run: Running) -> tuple[int, dict[str, Any]]:
    checks = {"aws": _aws_answers(run)}
    for name, sandbox in run.sandboxes.items():
        checks[f"sandbox:{name}"] = _answers(f"{sandbox.url}/_sandbox/health")
    for name, pool in run.pools.items():
        checks[f"function:{name}"] = pool.ready()
    for mapping in run.mappings:
        checks[f"poller:{mapping.function_name}"] = mapping.ready()
    ready = all(checks.values())
    return (200 if ready else 503), {"status": "ready" if ready else "starting", "checks": checks}


def _aws_answers(run: Running) -> bool:
    try:
        boto3.client("sqs").get_queue_attributes(
            QueueUrl=run.refs["RetryQueue"], AttributeNames=["QueueArn"]
        )
    except Exception:
        return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - a loopback URL
            return bool(answer.status == 200)
    except OSError:
        return False


# Long enough for a listing of thousands of messages on moto; a message that comes back early
# is listed once all the same.
PEEK_VISIBILITY_SECONDS = 60
_PEEK_LOCK = threading.Lock()  # two listings at once would hide messages from each other


def _peek(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message of the queue once, consuming none: each page stays hidden while the next
    ones are received (with visibility 0 SQS returns the same first page every time), and the
    whole lot is made visible again at the end."""
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    with _PEEK_LOCK:
        try:
            wait = 0
            while True:
                batch = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                    WaitTimeSeconds=wait,
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not batch:
                    if wait:
                        break
                    wait = 1  # short polls sample some servers: confirm with a long poll
                    continue
                for m in batch:
                    handles.append(m["ReceiptHandle"])
                    attribute = m.get("MessageAttributes", {}).get("reason", {})
                    seen.setdefault(
                        m["MessageId"],
                        {"body": m["Body"], "reason": attribute.get("StringValue")},
                    )
        finally:
            for start in range(0, len(handles), 10):
                sqs.change_message_visibility_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                        for i, handle in enumerate(handles[start : start + 10])
                    ],
                )
    return list(seen.values())
