"""Calling RichRelevanceFunction the way API Gateway does, for the RichRelevance test files."""

from __future__ import annotations

import json
from typing import Any

from devserver.apigw_event import event_for
from devserver.template import Route
from tests.integration.conftest import Gateway

OPT_OUT = Route("PUT", "/v1/richrelevance/users/{userId}/opt-out", "AWS_IAM")
CONTENT = {
    "PUT": Route("PUT", "/v1/richrelevance/content", "AWS_IAM"),
    "PATCH": Route("PATCH", "/v1/richrelevance/content", "AWS_IAM"),
}


def opt_out(
    gateway: Gateway, user_id: str, body: Any, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    event = event_for(
        OPT_OUT,
        path_parameters={"userId": user_id},
        headers={"content-type": "application/json", **(headers or {})},
        body=raw,
        iam_caller="back-office",
    )
    return gateway.invoke("RichRelevanceFunction", event)


def content(
    gateway: Gateway, method: str, body: Any, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    event = event_for(
        CONTENT[method],
        headers={"content-type": "application/json", **(headers or {})},
        body=raw,
        iam_caller="back-office",
    )
    return gateway.invoke("RichRelevanceFunction", event)


def problem(response: dict[str, Any]) -> dict[str, Any]:
    assert response["headers"]["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(response["body"])
    assert body["status"] == response["statusCode"]
    return body


def item(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"c-{n}", "name": f"Content {n}", "image_url": [f"https://cdn/{n}.jpg"], **extra}


def peek(gateway: Gateway, queue: str = "RetryQueue") -> list[dict[str, Any]]:
    """The envelopes on `queue`, left visible again so that RetryFunction can take them."""
    messages = gateway.messages(queue, max_messages=1000)
    for message in messages:
        gateway.sqs.change_message_visibility(
            QueueUrl=gateway.refs[queue],
            ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=0,
        )
    return [json.loads(m["Body"]) for m in messages]
