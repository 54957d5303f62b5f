"""The template's contract: logical ids, routes, queues and configuration. Least privilege, as
deployed, is checked in test_template_security.py."""

from __future__ import annotations

from devserver.local_config import samconfig_parameters
from devserver.template import Template
from tests.unit.sam_expansion import expand
from tests.unit.test_template_security import grants

TEMPLATE = Template()
OPEN_ROUTES = {
    "/v1/postback/{database}/{table}",
    "/v1/td/{database}/{table}",
    "/v1/personalization/{database}/{table}",
    "/v1/personalization/public/{database}/{table}",
}


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


def test_postback_routes() -> None:
    routes = TEMPLATE.function("PostbackFunction").routes
    assert [(r.method, r.path) for r in routes] == [
        ("POST", "/v1/postback/{database}/{table}"),
        ("POST", "/v1/td/{database}/{table}"),  # the TD JavaScript SDK's
    ]


def test_personalization_route_and_environment() -> None:
    fn = TEMPLATE.function("PersonalizationFunction")
    assert [(r.method, r.path, r.auth) for r in fn.routes] == [
        ("POST", "/v1/personalization/{database}/{table}", "NONE"),
        ("POST", "/v1/personalization/public/{database}/{table}", "NONE"),  # TD JS SDK's
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
    doc = expand()
    for fn in TEMPLATE.functions():
        reached = {a for a, r in grants(doc, fn.logical_id) if r == "ExperienceCacheTable"}
        if fn.logical_id != "RoktExperienceFunction":
            assert reached == set(), fn.logical_id
            continue
        assert reached == {"dynamodb:GetItem", "dynamodb:PutItem"}


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


def test_every_function_has_an_errors_alarm_and_the_dlq_one() -> None:
    alarms = TEMPLATE.of_type("AWS::CloudWatch::Alarm").values()
    watched = {
        d["Value"]["Ref"]
        for a in alarms
        if a.get("MetricName") == "Errors"
        for d in a["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    assert watched == {fn.logical_id for fn in TEMPLATE.functions()}
    dlq = [a for a in alarms if a.get("Namespace") == "AWS/SQS"]
    assert dlq[0]["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}


def test_vendor_routes_require_iam_and_open_routes_are_listed() -> None:
    for fn in TEMPLATE.functions():
        for route in fn.routes:
            expected = "NONE" if route.path in OPEN_ROUTES else "AWS_IAM"
            assert route.auth == expected, (fn.logical_id, route)


HTTP_FUNCTIONS = [fn for fn in TEMPLATE.functions() if fn.routes]


def test_destinations_are_parameters_that_allow_nothing_by_default() -> None:
    params = TEMPLATE.raw["Parameters"]
    for name, variable, functions in (
        ("PostbackDestinations", "POSTBACK_DESTINATIONS", {"PostbackFunction", "RetryFunction"}),
        (
            "PersonalizationDestinations",
            "PERSONALIZATION_DESTINATIONS",
            {"PersonalizationFunction", "RetryFunction"},
        ),
    ):
        assert params[name]["Type"] == "String"
        assert params[name]["Default"] == ""
        having = {f.logical_id for f in TEMPLATE.functions() if variable in f.environment}
        assert having == functions, variable
        for logical_id in functions:
            assert TEMPLATE.function(logical_id).environment[variable] == {"Ref": name}


def test_every_http_function_knows_the_allowed_origins() -> None:
    for fn in HTTP_FUNCTIONS:
        assert fn.environment["ALLOWED_ORIGINS"] == {
            "Fn::Join": [",", {"Ref": "CorsAllowOrigins"}]
        }, fn.logical_id
        assert TEMPLATE.resolve(fn.environment["ALLOWED_ORIGINS"], {}) == "http://localhost:3000"
    assert "ALLOWED_ORIGINS" not in TEMPLATE.function("RetryFunction").environment


def test_cors_serves_the_td_sdk_with_credentials_and_never_any_origin() -> None:
    cors = TEMPLATE.of_type("AWS::Serverless::HttpApi")["HttpApi"]["CorsConfiguration"]
    assert cors["AllowCredentials"] is True
    assert cors["AllowOrigins"] == {"Ref": "CorsAllowOrigins"}
    assert {
        "content-type",
        "accept",
        "authorization",
        "idempotency-key",
        "x-correlation-id",
    } <= set(cors["AllowHeaders"])
    assert {h.lower() for h in cors["ExposeHeaders"]} == {
        "retry-after",
        "gateway-status",
        "idempotency-replayed",
    }
    # With credentials, "*" would let any site send a user's cookies: never, in any deploy.
    origins = [TEMPLATE.parameters["CorsAllowOrigins"]]
    for config_env in ("default", "staging", "prod"):
        origins.append(samconfig_parameters(config_env).get("CorsAllowOrigins", origins[0]))
    for listed in origins:
        for origin in listed.split(","):
            assert "*" not in origin, origin
            assert origin.startswith(("https://", "http://localhost")), origin


def test_personalization_failure_mode() -> None:
    spec = TEMPLATE.raw["Parameters"]["PersonalizationOnFailure"]
    assert spec["AllowedValues"] == ["degrade", "error"]
    assert spec["Default"] == "degrade"
    env = TEMPLATE.function("PersonalizationFunction").environment
    assert env["PERSONALIZATION_ON_FAILURE"] == {"Ref": "PersonalizationOnFailure"}


def test_retry_pacing() -> None:
    params = TEMPLATE.raw["Parameters"]
    assert params["RetryMaxConcurrency"]["Default"] == 2
    assert params["RetryMaxConcurrency"]["MinValue"] == 2  # Lambda's minimum
    [source] = TEMPLATE.function("RetryFunction").sqs_sources
    assert source["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "RetryMaxConcurrency"}}
    assert params["CircuitFailures"]["Default"] == 5
    env = TEMPLATE.function("RetryFunction").environment
    assert env["CIRCUIT_FAILURES"] == {"Ref": "CircuitFailures"}


def test_delivery_state_table() -> None:
    table = TEMPLATE.of_type("AWS::DynamoDB::Table")["DeliveryStateTable"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    having = {
        fn.logical_id for fn in TEMPLATE.functions() if "DELIVERY_STATE_TABLE" in fn.environment
    }
    assert having == {"RichRelevanceFunction", "PostbackFunction", "RetryFunction"}
    for logical_id in having:
        env = TEMPLATE.function(logical_id).environment
        assert env["DELIVERY_STATE_TABLE"] == {"Ref": "DeliveryStateTable"}


def test_td_postback_endpoint_names_the_region_hosts() -> None:
    description = " ".join(TEMPLATE.raw["Parameters"]["TdPostbackEndpoint"]["Description"].split())
    for region, host in (
        ("us01", "https://in.treasuredata.com"),
        ("ap01", "https://tokyo.in.treasuredata.com"),
        ("eu01", "https://eu01.in.treasuredata.com"),
        ("ap02", "https://ap02.in.treasuredata.com"),
    ):
        assert f"{region} {host}" in description
    assert "records.in.treasuredata.com" in description
