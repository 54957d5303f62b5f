"""Which queues to work on: the local runtime's (its .devserver/state.json names the queue URLs
and the moto endpoint) or a deployed stack's (CloudFormation names them)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_sqs import SQSClient

ROOT = Path(__file__).resolve().parent.parent
LOCAL_STATE = ROOT / ".devserver" / "state.json"
QUEUES = ("RetryQueue", "DeadLetterQueue")


class TargetError(Exception):
    """The queues cannot be found: the message says what to do."""


@dataclass
class Target:
    name: str  # what the operator sees: "local runtime" or "stack NAME"
    retry_url: str
    dlq_url: str
    session: boto3.session.Session
    endpoint_url: str | None = None

    def sqs(self) -> SQSClient:
        return self.session.client("sqs", endpoint_url=self.endpoint_url)

    def cloudwatch(self) -> CloudWatchClient:
        return self.session.client("cloudwatch", endpoint_url=self.endpoint_url)

    def arn(self, url: str) -> str:
        attrs = self.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attrs["Attributes"]["QueueArn"]


def local(state_file: Path = LOCAL_STATE) -> Target:
    """The local runtime (`make run`), from the state file it writes while it runs."""
    if not state_file.is_file():
        raise TargetError(f"{state_file} not found: start the local runtime (`make run`) first")
    state = json.loads(state_file.read_text())
    queues = state.get("queues", {})
    if not all(name in queues for name in QUEUES):
        raise TargetError(f"{state_file} names no RetryQueue/DeadLetterQueue")
    endpoint = state.get("aws_endpoint")
    if endpoint:
        # moto accepts any credentials: the runtime's own placeholders when none are set.
        session = boto3.session.Session(
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
            region_name=boto3.session.Session().region_name or "us-east-1",
        )
    else:  # the runtime runs against a deployed stack's queues
        session = boto3.session.Session()
    return Target(
        "local runtime", queues["RetryQueue"], queues["DeadLetterQueue"], session, endpoint
    )


def stack(name: str, session: boto3.session.Session | None = None) -> Target:
    """A deployed stack, with the caller's AWS profile and region: its outputs, else its
    resources (the physical id of an AWS::SQS::Queue is its URL)."""
    session = session or boto3.session.Session()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    cfn = session.client("cloudformation", endpoint_url=endpoint)
    found: dict[str, str] = {}
    for s in cfn.describe_stacks(StackName=name)["Stacks"]:
        for output in s.get("Outputs", []):
            key = output.get("OutputKey", "").removesuffix("Url")
            if key in QUEUES:
                found[key] = output["OutputValue"]
    if not all(q in found for q in QUEUES):
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]:
            if r["LogicalResourceId"] in QUEUES and "PhysicalResourceId" in r:
                found.setdefault(r["LogicalResourceId"], r["PhysicalResourceId"])
    missing = [q for q in QUEUES if q not in found]
    if missing:
        raise TargetError(f"stack {name} has no {', '.join(missing)}")
    return Target(f"stack {name}", found["RetryQueue"], found["DeadLetterQueue"], session, endpoint)
