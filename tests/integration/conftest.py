"""Integration fixtures: a moto server on loopback with the template's queues and secrets, the
vendor sandboxes, and a `gateway` harness that invokes the real handlers in-process."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from devserver import local_config
from devserver.aws_resources import provision
from devserver.lambda_context import LambdaContext
from devserver.sqs_poller import SqsPoller
from devserver.template import Template
from devserver.vendors.richrelevance import CONTENT_PREFIX, PROFILE_PREFIX, RichRelevanceSandbox
from devserver.vendors.rokt import RoktSandbox
from devserver.vendors.td_personalization import TdPersonalizationSandbox
from devserver.vendors.td_postback import TdPostbackSandbox
from gateway.context import Context
from tests.conftest import reset_layer_state
from tests.secret_guard import leaks
from tests.support.tcp_proxy import SwitchableProxy, proxy_to

TEMPLATE = Template()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def td_sandbox() -> Iterator[TdPostbackSandbox]:
    sandbox = TdPostbackSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def td_p13n_sandbox() -> Iterator[TdPersonalizationSandbox]:
    sandbox = TdPersonalizationSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def rokt_sandbox() -> Iterator[RoktSandbox]:
    sandbox = RoktSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def rr_sandbox() -> Iterator[RichRelevanceSandbox]:
    sandbox = RichRelevanceSandbox().start()
    yield sandbox
    sandbox.stop()


@dataclass
class Gateway:
    """The deployed stack, in-process: handlers by logical id, queues, secrets, sandboxes."""

    refs: dict[str, str]
    td: TdPostbackSandbox
    p13n: TdPersonalizationSandbox
    rokt: RoktSandbox
    rr: RichRelevanceSandbox
    env: dict[str, str] = field(default_factory=dict)

    def handler(self, logical_id: str) -> Any:
        fn = TEMPLATE.function(logical_id)
        return getattr(importlib.import_module(fn.module), fn.attribute)

    def context(self, logical_id: str) -> Context:
        """The function's `Context` (the handler module's, as its execution environment has)."""
        context: Context = importlib.import_module(TEMPLATE.function(logical_id).module).context
        return context

    def invoke(self, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        context = LambdaContext(
            function_name=logical_id, timeout_seconds=TEMPLATE.function(logical_id).timeout
        )
        result: dict[str, Any] = self.handler(logical_id)(event, context)
        assert not leaks([json.dumps(result)]), "a response carries a secret value"
        return result

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    def queue_depth(self, name: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.refs[name],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )

    def messages(self, name: str, *, max_messages: int = 10) -> list[dict[str, Any]]:
        """Receive (without deleting) up to `max_messages` messages with their attributes."""
        found: list[dict[str, Any]] = []
        while len(found) < max_messages:
            batch = self.sqs.receive_message(
                QueueUrl=self.refs[name],
                MaxNumberOfMessages=min(10, max_messages - len(found)),
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not batch:
                break
            found.extend(batch)
        return found

    def envelopes(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.messages(name, max_messages=1000)]

    def retry_poller(self) -> SqsPoller:
        return SqsPoller(
            self.refs["RetryQueue"],
            self.handler("RetryFunction"),
            timeout_seconds=TEMPLATE.function("RetryFunction").timeout,
        )

    def drain(self, *, max_batches: int = 1000) -> int:
        """Run RetryFunction over RetryQueue until it is empty; returns the batches run."""
        poller = self.retry_poller()
        for batch in range(max_batches):
            if poller.poll_once().received == 0 and self.queue_depth("RetryQueue") == 0:
                return batch
        raise AssertionError("RetryQueue did not drain")


@pytest.fixture
def gateway(
    moto_url: str,
    td_sandbox: TdPostbackSandbox,
    td_p13n_sandbox: TdPersonalizationSandbox,
    rokt_sandbox: RoktSandbox,
    rr_sandbox: RichRelevanceSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> Gateway:
    requests.post(f"{moto_url}/moto-api/reset", timeout=5)
    td_sandbox.reset()
    td_p13n_sandbox.reset()
    rokt_sandbox.reset()
    rr_sandbox.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    reset_layer_state()
    refs = provision(TEMPLATE)
    env: dict[str, str] = {}
    for fn in TEMPLATE.functions():
        env.update(TEMPLATE.environment(fn, refs))
    env.update(local_config.LOCAL_ENV)
    env.update(
        {
            # The local runtime's sample destinations, and the fault suite's database.
            "POSTBACK_DESTINATIONS": local_config.LOCAL_ENV["POSTBACK_DESTINATIONS"] + ",faults.*",
            "PERSONALIZATION_DESTINATIONS": (
                local_config.LOCAL_ENV["PERSONALIZATION_DESTINATIONS"] + ",faults.*"
            ),
            "AWS_ENDPOINT_URL": moto_url,
            "TD_POSTBACK_ENDPOINT": td_sandbox.url,
            "TD_INGEST_ENDPOINT": td_sandbox.url,
            "TD_P13N_ENDPOINT": td_p13n_sandbox.url,
            "ROKT_ENDPOINT": rokt_sandbox.url,
            "RR_PROFILE_COMMAND_ENDPOINT": rr_sandbox.url + PROFILE_PREFIX,
            "RR_CONTENT_UPDATE_ENDPOINT": rr_sandbox.url + CONTENT_PREFIX,
            "UPSTREAM_CONNECT_TIMEOUT_SECONDS": "0.5",
            "UPSTREAM_TIMEOUT_SECONDS": "1",
            # Backoff runs on the real clock; tests replay at once instead of waiting 30 s.
            "RETRY_BACKOFF_BASE_SECONDS": "0",
            # The circuit waits on the real clock too: only its own tests let it open.
            "CIRCUIT_FAILURES": "1000",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_SERVICE_NAME": "activation-gateway-tests",
        }
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_layer_state()
    return Gateway(
        refs=refs, td=td_sandbox, p13n=td_p13n_sandbox, rokt=rokt_sandbox, rr=rr_sandbox, env=env
    )


@pytest.fixture
def aws_proxy(
    gateway: Gateway, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], SwitchableProxy]]:
    """`aws_proxy("DYNAMODB")`: a switchable proxy between the functions and one AWS service of
    the moto server (boto3's per-service endpoint variable), to take that service down."""
    with ExitStack() as stack:

        def through(service: str) -> SwitchableProxy:
            proxy = stack.enter_context(proxy_to(moto_url))
            monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", proxy.url)
            return proxy

        yield through


@pytest.fixture
def dynamodb_proxy(aws_proxy: Callable[[str], SwitchableProxy]) -> SwitchableProxy:
    return aws_proxy("DYNAMODB")
