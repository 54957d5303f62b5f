"""Least privilege as deployed: every statement of every role of the expanded template (what
samtranslator hands CloudFormation), with tracing and a customer-managed key on and off, and
docs/security.md's table checked against it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from devserver.template import ROOT, Template
from tests.unit.sam_expansion import expand, of_type

TEMPLATE = Template()
FUNCTIONS = sorted(fn.logical_id for fn in TEMPLATE.functions())
SECURITY_DOC = ROOT / "docs" / "security.md"
KEY = "arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-1111-2222-3333-444455556666"
SCOPED_SERVICES = ("sqs:", "dynamodb:", "secretsmanager:", "kms:", "logs:")
VARIANTS = [
    pytest.param({"TracingEnabled": "true"}, id="tracing"),
    pytest.param({"TracingEnabled": "false"}, id="no-tracing"),
    pytest.param({"TracingEnabled": "true", "KmsKeyArn": KEY}, id="tracing-kms"),
    pytest.param({"TracingEnabled": "false", "KmsKeyArn": KEY}, id="no-tracing-kms"),
]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _name(resource: Any) -> str:
    """A statement's resource as a name: the logical id it refers to, a parameter, or "*"."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    raise AssertionError(f"unexpected resource form {resource!r}")


def statements(doc: dict[str, Any], role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role["Properties"].get("Policies", []):
        found.extend(_list(policy["PolicyDocument"]["Statement"]))
    return found


def function_role(doc: dict[str, Any], logical_id: str) -> dict[str, Any]:
    role = doc["Resources"][logical_id]["Properties"]["Role"]
    assert set(role) == {"Fn::GetAtt"}, logical_id  # its own role, declared in the template
    name = role["Fn::GetAtt"][0]
    result: dict[str, Any] = doc["Resources"][name]
    return result


def grants(doc: dict[str, Any], logical_id: str) -> set[tuple[str, str]]:
    """(action, resource name) pairs the function's role allows."""
    pairs = set()
    for statement in statements(doc, function_role(doc, logical_id)):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        for action in _list(statement["Action"]):
            for resource in _list(statement["Resource"]):
                pairs.add((action, _name(resource)))
    return pairs


@pytest.mark.parametrize("parameters", VARIANTS)
def test_no_role_has_a_wildcard_resource_for_data_actions(parameters: dict[str, str]) -> None:
    doc = expand(**parameters)
    for name, role in of_type(doc, "AWS::IAM::Role").items():
        for statement in statements(doc, role):
            for action in _list(statement["Action"]):
                assert not action.endswith("*"), (name, action)
                if action.startswith(SCOPED_SERVICES):
                    assert "*" not in map(_name, _list(statement["Resource"])), (name, action)


@pytest.mark.parametrize("parameters", VARIANTS)
def test_roles_carry_no_managed_policies_but_codedeploys(parameters: dict[str, str]) -> None:
    """AWS-managed policies grant "*" (AWSLambdaSQSQueueExecutionRole on every queue,
    AWSXRayDaemonWriteAccess even with tracing off): the functions' roles have none."""
    doc = expand(**parameters)
    for name, role in of_type(doc, "AWS::IAM::Role").items():
        arns = role["Properties"].get("ManagedPolicyArns", [])
        if name == "CodeDeployServiceRole":  # SAM's, for traffic shifting between versions
            assert [str(a) for a in arns] == [
                "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"
            ]
        else:
            assert arns == [], name


@pytest.mark.parametrize("parameters", VARIANTS)
def test_xray_and_kms_permissions_only_when_configured(parameters: dict[str, str]) -> None:
    doc = expand(**parameters)
    tracing = parameters["TracingEnabled"] == "true"
    kms = "KmsKeyArn" in parameters
    for logical_id in FUNCTIONS:
        actions = {action for action, _ in grants(doc, logical_id)}
        assert bool(actions & {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}) == tracing
        assert bool({a for a in actions if a.startswith("kms:")}) == kms
        props = doc["Resources"][logical_id]["Properties"]
        assert props["TracingConfig"]["Mode"] == ("Active" if tracing else "PassThrough")
        if kms:
            assert ("kms:Decrypt", "KmsKeyArn") in grants(doc, logical_id)


def test_each_function_reads_exactly_its_own_secrets() -> None:
    doc = expand()
    for fn in TEMPLATE.functions():
        readable = {r for a, r in grants(doc, fn.logical_id) if a.startswith("secretsmanager:")}
        configured = {
            v["Ref"]
            for k, v in fn.environment.items()
            if k.endswith("_SECRET_ID") and isinstance(v, dict)
        }
        assert readable == configured, fn.logical_id
        assert {a for a, _ in grants(doc, fn.logical_id) if a.startswith("secretsmanager:")} <= {
            "secretsmanager:GetSecretValue"
        }


def test_tables_are_reached_item_by_item_and_only_those_in_the_environment() -> None:
    item_actions = {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",  # puts by key, several a call (the retry group commit)
        "dynamodb:BatchGetItem",  # gets by key (the retry function's delivery state)
    }
    doc = expand()
    for fn in TEMPLATE.functions():
        configured = {
            v["Ref"] for k, v in fn.environment.items() if k.endswith("_TABLE") and "Ref" in v
        }
        dynamodb = {(a, r) for a, r in grants(doc, fn.logical_id) if a.startswith("dynamodb:")}
        assert {a for a, _ in dynamodb} <= item_actions, fn.logical_id  # no Scan, Query
        assert {r for _, r in dynamodb} == configured, fn.logical_id


def test_delivery_state_access() -> None:
    doc = expand()
    expected = {
        # Accepting ordered writes: one conditional update, or a content chunk's conditional
        # updates in one TransactWriteItems, which IAM allows by UpdateItem.
        "RichRelevanceFunction": {"UpdateItem"},
        # Replays: the last accepted write per key, and the vendor circuits.
        "RetryFunction": {"GetItem", "UpdateItem", "BatchGetItem"},
    }
    for logical_id in FUNCTIONS:
        actions = {
            a.removeprefix("dynamodb:")
            for a, r in grants(doc, logical_id)
            if r == "DeliveryStateTable"
        }
        assert actions == expected.get(logical_id, set()), logical_id


def test_queues_only_as_each_function_needs() -> None:
    doc = expand()
    for logical_id in FUNCTIONS:
        sqs = {(a, r) for a, r in grants(doc, logical_id) if a.startswith("sqs:")}
        assert {r for _, r in sqs} <= {"RetryQueue", "DeadLetterQueue"}, logical_id
        consumes = {a for a, r in sqs if a != "sqs:SendMessage"}
        if logical_id == "RetryFunction":
            # The event source's own actions and the backoff, on RetryQueue only.
            assert {(a, r) for a, r in sqs if a in consumes} == {
                ("sqs:ReceiveMessage", "RetryQueue"),
                ("sqs:DeleteMessage", "RetryQueue"),
                ("sqs:GetQueueAttributes", "RetryQueue"),
                ("sqs:ChangeMessageVisibility", "RetryQueue"),
            }
        else:
            assert consumes == set(), logical_id


def test_logs_go_to_the_functions_own_declared_log_group() -> None:
    doc = expand()
    for logical_id in FUNCTIONS:
        props = doc["Resources"][logical_id]["Properties"]
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert doc["Resources"][group]["Type"] == "AWS::Logs::LogGroup"
        group_props = doc["Resources"][group]["Properties"]
        assert group_props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        # /aws/lambda/<FunctionName>: Lambda's own naming, so nothing else creates the group.
        name = group_props["LogGroupName"]["Fn::Sub"]
        assert name == "/aws/lambda/" + props["FunctionName"]["Fn::Sub"], logical_id
        logs = {(a, r) for a, r in grants(doc, logical_id) if a.startswith("logs:")}
        assert logs == {("logs:CreateLogStream", group), ("logs:PutLogEvents", group)}


def test_encryption_follows_kms_key_arn() -> None:
    plain, keyed = expand(), expand(KmsKeyArn=KEY)
    for name in of_type(plain, "AWS::SQS::Queue"):
        assert plain["Resources"][name]["Properties"]["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in plain["Resources"][name]["Properties"]
        props = keyed["Resources"][name]["Properties"]
        assert props["KmsMasterKeyId"] == {"Ref": "KmsKeyArn"}
        assert "SqsManagedSseEnabled" not in props
    for name in of_type(plain, "AWS::DynamoDB::Table"):
        assert plain["Resources"][name]["Properties"]["SSESpecification"] == {"SSEEnabled": True}
        assert keyed["Resources"][name]["Properties"]["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "KmsKeyArn"},
        }
    for name in of_type(plain, "AWS::SecretsManager::Secret"):
        assert "KmsKeyId" not in plain["Resources"][name]["Properties"]
        assert keyed["Resources"][name]["Properties"]["KmsKeyId"] == {"Ref": "KmsKeyArn"}


def test_queues_refuse_plain_http() -> None:
    doc = expand()
    policies = of_type(doc, "AWS::SQS::QueuePolicy").values()
    covered = set()
    for policy in policies:
        [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Action"] == "sqs:*"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        [queue] = policy["Properties"]["Queues"]
        assert statement["Resource"] == {"Fn::GetAtt": [queue["Ref"], "Arn"]}
        covered.add(queue["Ref"])
    assert covered == {"RetryQueue", "DeadLetterQueue"}


def test_what_holds_writes_or_keys_survives_stack_deletion() -> None:
    for name in (
        "DeadLetterQueue",
        "IdempotencyTable",
        "DeliveryStateTable",
        "TreasureDataSecret",
        "RoktSecret",
        "RichRelevanceSecret",
    ):
        resource = TEMPLATE.resources[name]
        assert resource["DeletionPolicy"] == "Retain", name
        assert resource["UpdateReplacePolicy"] == "Retain", name


def test_traces_never_capture_responses_or_errors() -> None:
    env = TEMPLATE.raw["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert env["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"


# docs/security.md: | `Function` | `action`, ... | `Resource`, ... |, plus the conditional rows.
TRACING_ROW = "every function, when TracingEnabled=true"
KEY_ROW = "every function, when KmsKeyArn set"
_ROW = re.compile(r"^\|([^|]+)\|([^|]+)\|([^|]+)\|\s*$")


def documented() -> dict[str, set[tuple[str, str]]]:
    table: dict[str, set[tuple[str, str]]] = {}
    text = SECURITY_DOC.read_text()
    section = text.split("## Least privilege", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        m = _ROW.match(line)
        key = m[1].replace("`", "").strip() if m else ""
        if not m or set(key) <= {"-", " "} or key == "function":
            continue
        actions = re.findall(r"`([a-z0-9-]+:\w+)`", m[2])
        resources = re.findall(r"`([\w*]+)`", m[3])
        assert actions, line
        assert resources, line
        table.setdefault(key, set()).update((a, r) for a in actions for r in resources)
    return table


def test_security_doc_lists_exactly_the_deployed_permissions() -> None:
    table = documented()
    base = expand(TracingEnabled="false")
    tracing = expand(TracingEnabled="true")
    keyed = expand(TracingEnabled="false", KmsKeyArn=KEY)
    when_tracing, when_key = TRACING_ROW, KEY_ROW
    for logical_id in FUNCTIONS:
        assert grants(base, logical_id) == table[logical_id], logical_id
        assert grants(tracing, logical_id) - grants(base, logical_id) == table[when_tracing]
        assert grants(keyed, logical_id) - grants(base, logical_id) == table[when_key]
    assert set(table) == {*FUNCTIONS, when_tracing, when_key}
