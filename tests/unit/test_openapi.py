"""The published OpenAPI document: valid, current, and covering every route of the template."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from devserver.openapi import DOCUMENT, document
from devserver.template import Template


def test_document_is_valid_openapi_3_1() -> None:
    validate(document())


def test_committed_document_is_current() -> None:
    assert json.loads(DOCUMENT.read_text()) == document(), "run `make openapi`"


def test_every_route_is_documented_with_its_auth() -> None:
    doc = document()
    for fn in Template().functions():
        for route in fn.routes:
            operation = doc["paths"][route.path][route.method.lower()]
            assert operation["operationId"].startswith(fn.logical_id)
            assert ("security" in operation) == (route.auth == "AWS_IAM")
            assert set(operation["responses"]) >= {"4XX", "5XX"}
