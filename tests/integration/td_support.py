"""Calling PostbackFunction the way API Gateway does, for the postback test files."""

from __future__ import annotations

import json
from typing import Any

from devserver.apigw_event import event_for
from devserver.template import Route
from tests.integration.conftest import Gateway

POSTBACK = Route("POST", "/v1/postback/{database}/{table}")


def postback(
    gateway: Gateway,
    record: dict[str, Any],
    *,
    database: str = "web_events",
    table: str = "pageviews",
) -> dict[str, Any]:
    event = event_for(
        POSTBACK,
        path_parameters={"database": database, "table": table},
        headers={"content-type": "application/json"},
        body=json.dumps(record),
    )
    return gateway.invoke("PostbackFunction", event)
