"""Creates the template's queues, tables and secrets in an AWS endpoint (a moto server locally): the
RetryQueue with its redrive policy and visibility timeout, the DeadLetterQueue, and the vendor
secrets seeded with the sandboxes' credentials."""

from __future__ import annotations

import json
from typing import Any

import boto3

from devserver.template import Template

# The sandboxes' credentials (devserver/vendors): what a local secret holds.
SANDBOX_SECRETS: dict[str, dict[str, str]] = {
    "TreasureDataSecret": {
        "write_key": "sandbox-td-write-key",
        "api_key": "1/sandbox-td-api-key",
        "wp13n_token": "1/8/sandbox-p13n-token",
    },
}


def provision(
    template: Template,
    *,
    prefix: str = "activation-gateway-local",
    secrets: dict[str, dict[str, str]] | None = None,
) -> dict[str, str]:
    """Create the resources; returns the values that `Ref`/`GetAtt` resolve to."""
    sqs = boto3.client("sqs")
    sm = boto3.client("secretsmanager")
    refs: dict[str, str] = {}
    queues = template.of_type("AWS::SQS::Queue")
    # Dead-letter targets first, so that redrive policies can point at them.
    ordered = sorted(queues, key=lambda name: "RedrivePolicy" in queues[name])
    for name in ordered:
        props = queues[name]
        attributes: dict[Any, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod"):
            if key in props:
                attributes[key] = str(props[key])
        if "RedrivePolicy" in props:
            policy = props["RedrivePolicy"]
            target = policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": refs[f"{target}.Arn"],
                    "maxReceiveCount": int(template.resolve(policy["maxReceiveCount"], refs)),
                }
            )
        url = sqs.create_queue(QueueName=f"{prefix}-{name}", Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        refs.update({name: url, f"{name}.Arn": arn, f"{name}.QueueName": f"{prefix}-{name}"})
    refs.update(_tables(template, prefix))
    values = {**SANDBOX_SECRETS, **(secrets or {})}
    for name in template.of_type("AWS::SecretsManager::Secret"):
        secret_name = f"{prefix}/{name}"
        body = json.dumps(values.get(name, {}))
        try:
            arn = sm.create_secret(Name=secret_name, SecretString=body)["ARN"]
        except sm.exceptions.ResourceExistsException:
            arn = sm.put_secret_value(SecretId=secret_name, SecretString=body)["ARN"]
        refs[name] = arn
    return refs


def _tables(template: Template, prefix: str) -> dict[str, str]:
    """DynamoDB tables with their keys and time-to-live attribute (moto honours TTL on read
    only as far as the code checks expiry itself, as it must on real DynamoDB too)."""
    dynamodb = boto3.client("dynamodb")
    refs: dict[str, str] = {}
    for name, props in template.of_type("AWS::DynamoDB::Table").items():
        table = f"{prefix}-{name}"
        try:
            arn = dynamodb.create_table(
                TableName=table,
                AttributeDefinitions=props["AttributeDefinitions"],
                KeySchema=props["KeySchema"],
                BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
            )["TableDescription"]["TableArn"]
        except dynamodb.exceptions.ResourceInUseException:
            arn = dynamodb.describe_table(TableName=table)["Table"]["TableArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(
                TableName=table,
                TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"],
                    "Enabled": bool(ttl.get("Enabled", True)),
                },
            )
        refs.update({name: table, f"{name}.Arn": arn})
    return refs
