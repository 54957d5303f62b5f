"""The gateway's AWS clients, seen on the requests they send to moto: every call names the
gateway in its User-Agent, as its vendor calls do, and botocore does not rebuild that header on
every call (its default: ~90 µs of CPU per call, a quarter of a DynamoDB call's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore import useragent

from gateway import USER_AGENT
from tests.integration.conftest import Gateway

EVENT = Path(__file__).parents[2] / "events" / "richrelevance-content-patch-accepted.json"


def _user_agents(gateway: Gateway, logical_id: str) -> list[tuple[str, str]]:
    """(operation, User-Agent) of every AWS request the function's clients send from now on."""
    sent: list[tuple[str, str]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        user_agent = request.headers["User-Agent"]
        text = user_agent.decode() if isinstance(user_agent, bytes) else user_agent
        sent.append((event_name.split(".")[-1], text))

    # Clients copy the session's handlers when made: this one is fresh, none is made yet.
    gateway.context(logical_id).boto3_session.events.register("before-send", record)
    return sent


def test_every_aws_call_names_the_gateway_in_its_user_agent(gateway: Gateway) -> None:
    sent = _user_agents(gateway, "RichRelevanceFunction")
    event = json.loads(EVENT.read_text())

    for _ in range(2):
        assert gateway.invoke("RichRelevanceFunction", event)["statusCode"] == 200

    operations = [operation for operation, _ in sent]
    # The OAuth client credentials from Secrets Manager, then each write's ordering record.
    assert operations == ["GetSecretValue", "TransactWriteItems", "TransactWriteItems"]
    assert all(user_agent.startswith(f"{USER_AGENT} Boto3/") for _, user_agent in sent)


def test_a_warm_aws_call_does_not_rebuild_its_user_agent(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = json.loads(EVENT.read_text())
    assert gateway.invoke("RichRelevanceFunction", event)["statusCode"] == 200
    built: list[str] = []
    sanitize = useragent.sanitize_user_agent_string_component

    def counted(raw_str: str, allow_hash: bool) -> str:
        # botocore's default User-Agent passes each of its ~40 parts through this, per call.
        built.append(raw_str)
        return sanitize(raw_str, allow_hash)

    monkeypatch.setattr(useragent, "sanitize_user_agent_string_component", counted)
    sent = len(gateway.rr.requests)

    for _ in range(3):
        assert gateway.invoke("RichRelevanceFunction", event)["statusCode"] == 200

    # The writes went out, each with its ordering record, on a User-Agent made with the client.
    assert len(gateway.rr.requests) - sent == 3
    assert built == []
