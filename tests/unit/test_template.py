"""The template's contract: logical ids, routes, queues, and least-privilege policies."""

from __future__ import annotations

from typing import Any

from devserver.template import Template

TEMPLATE = Template()


def _policies(logical_id: str) -> list[dict[str, Any]]:
    props = TEMPLATE.of_type("AWS::Serverless::Function")[logical_id]
    return list(props.get("Policies", []))


def test_contract_resources_exist() -> None:
    for name in (
        "ClientsLayer",
        "HttpApi",
        "RetryQueue",
        "DeadLetterQueue",
        "TreasureDataSecret",
        "RoktSecret",
        "PostbackFunction",
        "PersonalizationFunction",
        "RoktExperienceFunction",
        "RichRelevanceSecret",
        "RichRelevanceFunction",
        "RetryFunction",
    ):
        assert name in TEMPLATE.resources


def test_postback_route() -> None:
    routes = TEMPLATE.function("PostbackFunction").routes
    assert [(r.method, r.path) for r in routes] == [
        ("POST", "/v1/postback/{database}/{table}"),
        ("POST", "/v1/td/{database}/{table}"),
    ]


def test_personalization_route_and_environment() -> None:
    fn = TEMPLATE.function("PersonalizationFunction")
    assert [(r.method, r.path, r.auth) for r in fn.routes] == [
        ("POST", "/v1/personalization/{database}/{table}", "NONE"),
        ("POST", "/v1/personalization/public/{database}/{table}", "NONE"),
    ]
    assert fn.environment["TD_P13N_ENDPOINT"] == {"Ref": "TdP13nEndpoint"}
    assert fn.environment["TD_SECRET_ID"] == {"Ref": "TreasureDataSecret"}
    # RetryFunction replays td.personalization envelopes through the same client.
    retry = TEMPLATE.function("RetryFunction")
    assert retry.environment["TD_P13N_ENDPOINT"] == {"Ref": "TdP13nEndpoint"}
    # Two TD attempts (the in-line retry) at the longest read timeout, then queueing, fit.
    max_read = TEMPLATE.raw["Parameters"]["UpstreamTimeoutSeconds"]["MaxValue"]
    assert fn.timeout > 2 * max_read


def test_rokt_route_requires_aws_iam_and_open_routes_stay_open() -> None:
    routes = TEMPLATE.function("RoktExperienceFunction").routes
    assert [(r.method, r.path, r.auth) for r in routes] == [
        ("POST", "/v1/rokt/experiences", "AWS_IAM")
    ]
    auth = TEMPLATE.of_type("AWS::Serverless::HttpApi")["HttpApi"]["Auth"]
    assert auth == {"EnableIamAuthorizer": True}  # no DefaultAuthorizer
    assert {r.auth for r in TEMPLATE.function("PostbackFunction").routes} == {"NONE"}


def test_rokt_function_configuration() -> None:
    env = TEMPLATE.function("RoktExperienceFunction").environment
    assert env["ROKT_ENDPOINT"] == {"Ref": "RoktEndpoint"}
    assert env["ROKT_SECRET_ID"] == {"Ref": "RoktSecret"}
    assert env["EXPERIENCE_CACHE_TABLE"] == {"Ref": "ExperienceCacheTable"}
    assert env["ROKT_CACHE_TTL_SECONDS"] == {"Ref": "RoktCacheTtlSeconds"}
    assert TEMPLATE.parameters["RoktEndpoint"] == "https://server-api.rokt.com"


def test_experience_cache_table_expires_items_and_is_only_read_and_written() -> None:
    table = TEMPLATE.of_type("AWS::DynamoDB::Table")["ExperienceCacheTable"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "cacheKey", "KeyType": "HASH"}]
    for fn in TEMPLATE.functions():
        statements = [s for p in _policies(fn.logical_id) for s in p.get("Statement", [])]
        dynamodb = [s for s in statements if "ExperienceCacheTable" in str(s["Resource"])]
        if fn.logical_id != "RoktExperienceFunction":
            assert dynamodb == [], fn.logical_id
            continue
        [statement] = dynamodb
        assert sorted(_list(statement["Action"])) == ["dynamodb:GetItem", "dynamodb:PutItem"]
        assert statement["Resource"] == {"Fn::GetAtt": ["ExperienceCacheTable", "Arn"]}


def test_richrelevance_routes_require_aws_iam() -> None:
    routes = TEMPLATE.function("RichRelevanceFunction").routes
    assert sorted((r.method, r.path, r.auth) for r in routes) == [
        ("PATCH", "/v1/richrelevance/content", "AWS_IAM"),
        ("PUT", "/v1/richrelevance/content", "AWS_IAM"),
        ("PUT", "/v1/richrelevance/users/{userId}/opt-out", "AWS_IAM"),
    ]


def test_richrelevance_configuration_reaches_both_functions() -> None:
    rr = TEMPLATE.function("RichRelevanceFunction").environment
    retry = TEMPLATE.function("RetryFunction").environment
    for name in (
        "RR_ENVIRONMENT",
        "RR_PROFILE_COMMAND_ENDPOINT",
        "RR_CONTENT_UPDATE_ENDPOINT",
        "RR_SECRET_ID",
    ):
        assert rr[name] == retry[name], name
    assert rr["RR_SECRET_ID"] == {"Ref": "RichRelevanceSecret"}
    assert rr["RR_CONTENT_CHUNK_SIZE"] == {"Ref": "RrContentChunkSize"}
    assert TEMPLATE.raw["Parameters"]["RrEnvironment"]["AllowedValues"] == [
        "gateway",
        "staging-gateway",
        "qa-gateway",
    ]


def test_retry_function_reports_batch_item_failures() -> None:
    [source] = TEMPLATE.function("RetryFunction").sqs_sources
    assert source["Queue"] == {"Fn::GetAtt": ["RetryQueue", "Arn"]}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_retry_queue_redrives_to_dead_letter_queue() -> None:
    policy = TEMPLATE.of_type("AWS::SQS::Queue")["RetryQueue"]["RedrivePolicy"]
    assert policy["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert policy["maxReceiveCount"] == {"Ref": "RetryMaxReceives"}


def test_each_function_reads_only_the_secrets_in_its_environment() -> None:
    for fn in TEMPLATE.functions():
        readable = {
            p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]["Ref"]
            for p in _policies(fn.logical_id)
            if "AWSSecretsManagerGetSecretValuePolicy" in p
        }
        configured = {
            v["Ref"]
            for k, v in fn.environment.items()
            if k.endswith("_SECRET_ID") and isinstance(v, dict)
        }
        assert readable == configured, fn.logical_id


def test_functions_send_only_to_the_gateway_queues() -> None:
    allowed = {"RetryQueue", "DeadLetterQueue"}
    for fn in TEMPLATE.functions():
        for policy in _policies(fn.logical_id):
            if "SQSSendMessagePolicy" in policy:
                queue = policy["SQSSendMessagePolicy"]["QueueName"]["Fn::GetAtt"][0]
                assert queue in allowed, fn.logical_id
            for statement in policy.get("Statement", []):
                assert "*" not in str(statement["Resource"]), fn.logical_id
                assert not any(a.endswith("*") for a in _list(statement["Action"]))


def test_only_the_retry_function_may_delay_retry_messages() -> None:
    for fn in TEMPLATE.functions():
        statements = [s for p in _policies(fn.logical_id) for s in p.get("Statement", [])]
        changes = [s for s in statements if "sqs:ChangeMessageVisibility" in _list(s["Action"])]
        assert bool(changes) == (fn.logical_id == "RetryFunction")


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",  # puts by key, several a call (the retry function's group commit)
}


def test_policies_are_only_scoped_templates_and_statements() -> None:
    allowed = {"AWSSecretsManagerGetSecretValuePolicy", "SQSSendMessagePolicy", "Statement"}
    for fn in TEMPLATE.functions():
        for policy in _policies(fn.logical_id):
            # No managed policy names or ARNs (strings), only scoped templates and statements.
            assert isinstance(policy, dict), (fn.logical_id, policy)
            assert set(policy) <= allowed, (fn.logical_id, policy)
            for statement in policy.get("Statement", []):
                assert statement["Effect"] == "Allow"
                assert "NotAction" not in statement
                assert "NotResource" not in statement


def test_tables_are_reached_item_by_item_and_only_those_in_the_environment() -> None:
    for fn in TEMPLATE.functions():
        configured = {
            v["Ref"] for k, v in fn.environment.items() if k.endswith("_TABLE") and "Ref" in v
        }
        reached = set()
        for policy in _policies(fn.logical_id):
            for statement in policy.get("Statement", []):
                actions = set(_list(statement["Action"]))
                if any(a.startswith("dynamodb:") for a in actions):
                    assert actions <= ITEM_ACTIONS, fn.logical_id  # no Scan, Query, table ops
                    reached.add(statement["Resource"]["Fn::GetAtt"][0])
        assert reached == configured, fn.logical_id


def test_every_function_has_an_errors_alarm_and_the_dlq_one() -> None:
    alarms = TEMPLATE.of_type("AWS::CloudWatch::Alarm").values()
    watched = {
        d["Value"]["Ref"]
        for a in alarms
        if a["MetricName"] == "Errors"
        for d in a["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    assert watched == {fn.logical_id for fn in TEMPLATE.functions()}
    dlq = [a for a in alarms if a["Namespace"] == "AWS/SQS"]
    assert dlq[0]["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}


def test_vendor_routes_require_iam_and_open_routes_are_listed() -> None:
    open_routes = {
        "/v1/postback/{database}/{table}",
        "/v1/td/{database}/{table}",
        "/v1/personalization/{database}/{table}",
        "/v1/personalization/public/{database}/{table}",
    }
    for fn in TEMPLATE.functions():
        for route in fn.routes:
            expected = "NONE" if route.path in open_routes else "AWS_IAM"
            assert route.auth == expected, (fn.logical_id, route)
