"""Schemathesis over the published OpenAPI document, against the local runtime over HTTP:
requests that follow the document and requests that break it, on every route. No answer is a
5xx, every answer conforms to the document (status, content type, problem schema), and no
vendor sandbox ever refused what the gateway sent it."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, assume, settings
from schemathesis.specs.openapi import checks

from devserver.openapi import document
from tests.e2e.conftest import Runtime
from tests.secret_guard import carries_secret

schema = schemathesis.openapi.from_dict(document())

CHECKS = [
    schemathesis.checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def refused(runtime: Runtime) -> dict[str, int]:
    """Requests each sandbox received but did not accept (it answers 4xx to bad data)."""
    counts = {}
    for name in runtime.state["sandboxes"]:
        summary: dict[str, Any] = runtime.summary(name)
        counts[name] = summary["requests"] - len(summary["received"])
    return counts


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_follows_its_document(case: schemathesis.Case, runtime: Runtime) -> None:
    drawn = (case.path_parameters, case.query, case.headers, case.cookies, case.body)
    assume(not carries_secret(*drawn))
    before = refused(runtime)

    case.call_and_validate(base_url=runtime.api, checks=CHECKS, timeout=30)

    assert refused(runtime) == before, "the gateway sent a vendor something it refused"
