"""Operations as deployed (the samtranslator expansion): the optional JWT authorizer, aliases
and traffic shifting, provisioned concurrency, log levels, the dashboard and the alarms."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from devserver.local_config import samconfig_parameters
from devserver.template import Template
from tests.unit.sam_expansion import expand, of_type

TEMPLATE = Template()
FUNCTIONS = sorted(fn.logical_id for fn in TEMPLATE.functions())
ISSUER = "https://issuer.example.com/"
OPEN_ROUTES = {
    ("post", "/v1/postback/{database}/{table}"),
    ("post", "/v1/td/{database}/{table}"),
    ("post", "/v1/personalization/{database}/{table}"),
    ("post", "/v1/personalization/public/{database}/{table}"),
}


def _routes(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    paths = doc["Resources"]["HttpApi"]["Properties"]["Body"]["paths"]
    return {(m, p): op for p, item in paths.items() for m, op in item.items()}


def test_no_jwt_authorizer_while_the_issuer_is_empty() -> None:
    doc = expand()
    body = doc["Resources"]["HttpApi"]["Properties"]["Body"]
    assert set(body["components"]["securitySchemes"]) == {"AWS_IAM"}
    for key, op in _routes(doc).items():
        security = op.get("security")
        assert security == ([{"AWS_IAM": []}] if key not in OPEN_ROUTES else None), key
    assert of_type(doc, "AWS::ApiGatewayV2::Authorizer") == {}


def test_jwt_authorizer_guards_exactly_the_open_routes_when_an_issuer_is_set() -> None:
    doc = expand(JwtIssuer=ISSUER, JwtAudience="web-client,app-client")
    body = doc["Resources"]["HttpApi"]["Properties"]["Body"]
    scheme = body["components"]["securitySchemes"]["JwtAuthorizer"]
    assert scheme["x-amazon-apigateway-authorizer"] == {
        "type": "jwt",
        "identitySource": "$request.header.Authorization",
        "jwtConfiguration": {"issuer": {"Ref": "JwtIssuer"}, "audience": {"Ref": "JwtAudience"}},
    }
    routes = _routes(doc)
    assert len(routes) == 8
    for key, op in routes.items():
        scheme = "JwtAuthorizer" if key in OPEN_ROUTES else "AWS_IAM"
        expected: list[dict[str, list[str]]] = [{scheme: []}]
        assert op["security"] == expected, key
        # Every route still reaches its function (through the alias).
        uri = op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        assert re.search(r"\$\{\w+FunctionAliaslive\}", uri), key


def test_routes_and_the_event_source_target_the_live_alias() -> None:
    doc = expand()
    for key, op in _routes(doc).items():
        uri = op["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        assert "Aliaslive}" in uri, key
    for name, permission in of_type(doc, "AWS::Lambda::Permission").items():
        assert permission["Properties"]["FunctionName"]["Ref"].endswith("Aliaslive"), name
    [mapping] = of_type(doc, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["FunctionName"] == {"Ref": "RetryFunctionAliaslive"}
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["RetryQueue", "Arn"]}
    assert props["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "RetryMaxConcurrency"}}


@pytest.mark.parametrize("deployment", ["AllAtOnce", "Canary10Percent5Minutes"])
def test_traffic_shifting_rolls_back_on_the_functions_errors_alarm(deployment: str) -> None:
    doc = expand(DeploymentType=deployment)
    for logical_id in FUNCTIONS:
        alias = doc["Resources"][f"{logical_id}Aliaslive"]
        group_name = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"]
        group = doc["Resources"][group_name["Ref"]]["Properties"]
        assert group["DeploymentConfigName"]["Fn::Sub"][1]["ConfigName"] == deployment
        alarms = group["AlarmConfiguration"]["Alarms"]
        assert alarms == [{"Name": {"Ref": f"{logical_id}ErrorsAlarm"}}]
        # The alarm watches the alias, i.e. the traffic being shifted.
        dims = doc["Resources"][f"{logical_id}ErrorsAlarm"]["Properties"]["Dimensions"]
        assert {"Name": "Resource", "Value": {"Fn::Sub": f"${{{logical_id}}}:live"}} in dims


def test_samconfig_deploys_need_no_guided_answers() -> None:
    staging, prod = samconfig_parameters("staging"), samconfig_parameters("prod")
    assert prod["DeploymentType"] == "Canary10Percent5Minutes"
    assert staging["DeploymentType"] == "Linear10PercentEvery1Minute"
    for overrides in (staging, prod, samconfig_parameters("default")):
        for name, value in overrides.items():
            spec = TEMPLATE.raw["Parameters"][name]
            assert str(value) in map(str, spec.get("AllowedValues", [value])), name
        assert overrides["PostbackDestinations"]
    assert samconfig_parameters("default")["LogLevel"] == "DEBUG"


def test_provisioned_concurrency_only_for_the_read_paths_and_only_when_asked() -> None:
    assert all(
        "ProvisionedConcurrencyConfig" not in doc["Properties"]
        for doc in of_type(expand(), "AWS::Lambda::Alias").values()
    )
    doc = expand(ProvisionedConcurrency="3")
    warm = {
        name
        for name, alias in of_type(doc, "AWS::Lambda::Alias").items()
        if alias["Properties"].get("ProvisionedConcurrencyConfig")
        == {"ProvisionedConcurrentExecutions": {"Ref": "ProvisionedConcurrency"}}
    }
    assert warm == {"PersonalizationFunctionAliaslive", "RoktExperienceFunctionAliaslive"}


def test_log_levels_use_lambdas_spellings_and_powertools_agrees() -> None:
    params = TEMPLATE.raw["Parameters"]
    assert params["LogLevel"]["AllowedValues"] == ["DEBUG", "INFO", "WARN", "ERROR"]
    assert params["SystemLogLevel"]["Default"] == "WARN"
    doc = expand(LogLevel="WARN")
    for logical_id in FUNCTIONS:
        props = doc["Resources"][logical_id]["Properties"]
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert props["LoggingConfig"]["ApplicationLogLevel"] == {"Ref": "LogLevel"}
        assert props["LoggingConfig"]["SystemLogLevel"] == {"Ref": "SystemLogLevel"}
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


def test_powertools_reads_every_lambda_log_level() -> None:
    """POWERTOOLS_LOG_LEVEL carries Lambda's spelling (WARN, not WARNING): Python's logging
    and Powertools' own map of Lambda's levels both accept each value."""
    import logging

    from aws_lambda_powertools.shared.constants import LAMBDA_ADVANCED_LOGGING_LEVELS

    for level in TEMPLATE.raw["Parameters"]["LogLevel"]["AllowedValues"]:
        assert isinstance(logging.getLevelName(level), int), level
        assert level in LAMBDA_ADVANCED_LOGGING_LEVELS, level


# --- dashboard and alarms ------------------------------------------------------------------

_SUB = re.compile(r"\$\{([^}!]+)\}")


def dashboard() -> tuple[dict[str, Any], set[str]]:
    """The dashboard body as JSON, and the names its ${...} refer to."""
    body = TEMPLATE.of_type("AWS::CloudWatch::Dashboard")["Dashboard"]["DashboardBody"]["Fn::Sub"]
    names = set(_SUB.findall(body))
    return json.loads(_SUB.sub(lambda m: f"<{m[1]}>", body)), names


def _metric_names() -> dict[str, set[str]]:
    """Metrics the gateway emits (the layer's add_metric names) by namespace."""
    layer = Path(__file__).resolve().parents[2] / "layers" / "clients"
    names = set()
    for path in layer.rglob("*.py"):
        names.update(re.findall(r'add_metric\(\s*name="(\w+)"', path.read_text()))
    return {"ActivationGateway": names}


def test_dashboard_refers_only_to_existing_resources() -> None:
    _, names = dashboard()
    for name in names:
        resource = name.split(".")[0]
        assert resource in TEMPLATE.resources or resource.startswith("AWS::"), name


def test_dashboard_widgets_show_routes_write_outcomes_queues_and_throttles() -> None:
    body, _ = dashboard()
    routes = {f"{r.method} {r.path}" for fn in TEMPLATE.functions() for r in fn.routes}
    services = {fn.environment["POWERTOOLS_SERVICE_NAME"] for fn in TEMPLATE.functions()}
    seen: dict[str, set[str]] = {}
    for widget in body["widgets"]:
        props = widget["properties"]
        assert props["title"], widget
        assert widget["x"] >= 0
        assert widget["x"] + widget["width"] <= 24
        for metric in props["metrics"]:
            namespace, name, *dims = metric
            dimensions = dict(zip(dims[::2], dims[1::2], strict=True))
            if namespace == "AWS/ApiGateway":
                assert dimensions["ApiId"] == "<HttpApi>"
                assert dimensions["Stage"] == "$default"
                assert dimensions["Route"] in routes, dimensions
                seen.setdefault(f"api:{name}:{props['stat']}", set()).add(dimensions["Route"])
            elif namespace == "ActivationGateway":
                assert set(dimensions) == {"service"}
                assert dimensions["service"] in services
                seen.setdefault(f"gateway:{name}", set()).add(dimensions["service"])
            elif namespace == "AWS/SQS":
                queue = dimensions["QueueName"]
                assert queue in {"<RetryQueue.QueueName>", "<DeadLetterQueue.QueueName>"}
                seen.setdefault(f"sqs:{name}", set()).add(queue)
            elif namespace == "AWS/Lambda":
                fn = dimensions["FunctionName"].strip("<>")
                assert fn in FUNCTIONS
                seen.setdefault(f"lambda:{name}", set()).add(fn)
            else:
                raise AssertionError(f"unexpected namespace {namespace}")
    for metric, stat in (
        ("Count", "Sum"),
        ("4xx", "Sum"),
        ("5xx", "Sum"),
        ("Latency", "p50"),
        ("Latency", "p99"),
    ):
        assert seen[f"api:{metric}:{stat}"] == routes, metric
    emitted = _metric_names()["ActivationGateway"]
    for outcome in ("Delivered", "Queued", "Superseded", "DeadLettered"):
        assert seen[f"gateway:{outcome}"] == services - {"rokt-experience"}, outcome
    # Names the layer emits today (Superseded arrives with the ordering rules).
    assert {"Delivered", "Queued", "DeadLettered"} <= emitted
    assert seen["sqs:ApproximateAgeOfOldestMessage"] == {"<RetryQueue.QueueName>"}
    assert "<RetryQueue.QueueName>" in seen["sqs:ApproximateNumberOfMessagesVisible"]
    assert "<DeadLetterQueue.QueueName>" in seen["sqs:ApproximateNumberOfMessagesVisible"]
    assert seen["lambda:Throttles"] == set(FUNCTIONS)


def test_operational_alarms_notify_the_topic_when_set() -> None:
    alarms = TEMPLATE.of_type("AWS::CloudWatch::Alarm")
    age = alarms["RetryQueueAgeAlarm"]
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert age["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["RetryQueue", "QueueName"]}}
    ]
    rate = {m["Id"]: m for m in alarms["Api5xxRateAlarm"]["Metrics"]}
    assert rate["errors"]["MetricStat"]["Metric"]["MetricName"] == "5xx"
    assert rate["requests"]["MetricStat"]["Metric"]["MetricName"] == "Count"
    assert "errors / requests" in rate["rate"]["Expression"]
    throttled = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for m in alarms["ThrottlesAlarm"]["Metrics"]
        if "MetricStat" in m
    }
    assert throttled == set(FUNCTIONS)
    with_topic = expand(AlarmTopicArn="arn:aws:sns:us-east-1:123456789012:ops")
    without = expand()
    for name in alarms:
        assert with_topic["Resources"][name]["Properties"]["AlarmActions"] == [
            {"Ref": "AlarmTopicArn"}
        ], name
        assert "AlarmActions" not in without["Resources"][name]["Properties"], name


def test_dashboard_picture_is_drawn_from_the_template(tmp_path: Path) -> None:
    from scripts import render_dashboard

    titles = [w["properties"]["title"] for w in render_dashboard.widgets(TEMPLATE)]
    body, _ = dashboard()
    assert titles == [w["properties"]["title"] for w in body["widgets"]]
    output = tmp_path / "dashboard.png"
    render_dashboard.main(["--output", str(output)])
    assert output.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
