"""Creates the template's queues, tables and secrets in an AWS endpoint (a moto server locally):
the RetryQueue with its redrive policy and visibility timeout, the DeadLetterQueue, DynamoDB
tables with their TTL, and the vendor secrets seeded with the sandboxes' credentials."""

from __future__ import annotations

import json
from typing import Any

import boto3

from devserver.template import Template
from devserver.vendors.td_postback import DEFAULT_WRITE_KEY

# The sandboxes' credentials (devserver/vendors): what a local secret holds.
SANDBOX_SECRETS: dict[str, dict[str, str]] = {
    "TreasureDataSecret": {
        "write_key": DEFAULT_WRITE_KEY,
        "api_key": "1/sandbox-td-api-key",
        "wp13n_token": "1/8/sandbox-p13n-token",
    },
    "RoktSecret": {
        "public_id": "sandbox-rokt-pub-id",
        "secret": "sandbox-rokt-secret",
        "tag_id": "3068704822624787054",
    },
    "RichRelevanceSecret": {
        "client_id": "sandbox-rr-client-id",
        "client_secret": "sandbox-rr-client-secret",
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
    for name, props in template.of_type("AWS::DynamoDB::Table").items():
        refs.update(_table(f"{prefix}-{name}", props, name))
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


def _table(table_name: str, props: dict[str, Any], name: str) -> dict[str, str]:
    dynamodb = boto3.client("dynamodb")
    try:
        arn = dynamodb.create_table(
            TableName=table_name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )["TableDescription"]["TableArn"]
    except dynamodb.exceptions.ResourceInUseException:  # provisioned before, TTL included
        arn = dynamodb.describe_table(TableName=table_name)["Table"]["TableArn"]
        return {name: table_name, f"{name}.Arn": arn}
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    return {name: table_name, f"{name}.Arn": arn}
