"""The gateway's OpenAPI 3.1 document, built from its own sources: paths, methods and auth from
template.yaml; bodies, path parameters and limits from the layer's models and rules; every
error as an RFC 9457 problem. `make openapi` writes docs/openapi.json (a test keeps it current);
the local runtime serves it at /openapi.json; the fuzz tests generate requests from it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from devserver.template import ROOT, Route, Template

DOCUMENT = ROOT / "docs" / "openapi.json"
REF = "#/components/schemas/{model}"
Schema = dict[str, Any]


@dataclass(frozen=True)
class Operation:
    summary: str
    body: Callable[[dict[str, Schema]], Schema]  # components -> the request body's schema
    parameters: dict[str, Schema] = field(default_factory=dict)  # path parameter -> schema
    success: dict[int, str] = field(default_factory=dict)
    idempotency_key: bool = False
    media_types: tuple[str, ...] = ("application/json",)


def _model(model: type[BaseModel]) -> Callable[[dict[str, Schema]], Schema]:
    def schema(components: dict[str, Schema]) -> Schema:
        found = model.model_json_schema(ref_template=REF)
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
        return {"$ref": REF.format(model=model.__name__)}

    return schema


def _non_empty_array_of(model: type[BaseModel]) -> Callable[[dict[str, Schema]], Schema]:
    def schema(components: dict[str, Schema]) -> Schema:
        return {"type": "array", "minItems": 1, "items": _model(model)(components)}

    return schema


def _any_object(components: dict[str, Schema]) -> Schema:
    return {"type": "object", "description": "any JSON object (the record or event itself)"}


def _sdk_events(components: dict[str, Schema]) -> Schema:
    from gateway.vendors.td.js_sdk import MAX_EVENTS

    return {
        "type": "object",
        "description": "what td-js-sdk sends: the records, one Postback delivery each",
        "required": ["events"],
        "additionalProperties": False,
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_EVENTS,
                "items": {"type": "object"},
            }
        },
    }


def _operations() -> dict[str, Operation]:
    from gateway.vendors.richrelevance.content_items import ContentItem, PutContentItem
    from gateway.vendors.richrelevance.profile import MAX_USER_ID_CHARS, OptOutBody
    from gateway.vendors.rokt.request import ExperienceRequest
    from gateway.vendors.td.js_sdk import SDK_MEDIA_TYPES
    from gateway.vendors.td.names import NAME, P13N_NAME

    td_name = {"type": "string", "pattern": f"^{NAME.pattern}$"}
    p13n_name = {"type": "string", "pattern": f"^{P13N_NAME.pattern}$"}
    return {
        "POST /v1/postback/{database}/{table}": Operation(
            "Ingest one record into Treasure Data (Postback API)",
            _any_object,
            {"database": td_name, "table": td_name},
            {200: "Treasure Data accepted the record", 202: "Queued for retry"},
            idempotency_key=True,
        ),
        "POST /v1/td/{database}/{table}": Operation(
            "Ingest what TD's browser SDK (td-js-sdk v4) sends, one Postback call per event; "
            "the page's Authorization header is ignored",
            _sdk_events,
            {"database": td_name, "table": td_name},
            {200: "Treasure Data accepted every event", 202: "Some events queued for retry"},
            idempotency_key=True,
            media_types=(*sorted(SDK_MEDIA_TYPES), "application/json"),
        ),
        "POST /v1/personalization/{database}/{table}": Operation(
            "Look up Treasure Data real-time personalization for an event",
            _any_object,
            {"database": p13n_name, "table": p13n_name},
            {200: "The personalization", 204: "No personalization for this event"},
        ),
        "POST /v1/personalization/public/{database}/{table}": Operation(
            "The personalization lookup under the path of TD's browser SDK (fetchPersonalization)",
            _any_object,
            {"database": p13n_name, "table": p13n_name},
            {200: "The personalization", 204: "No personalization for this event"},
            media_types=("application/vnd.treasuredata.v1+json", "application/json"),
        ),
        "POST /v1/rokt/experiences": Operation(
            "Fetch Rokt experiences (V2 Partner Experiences API), cached by cacheKey",
            _model(ExperienceRequest),
            success={200: "Rokt's experiences (possibly none)"},
        ),
        "PUT /v1/richrelevance/users/{userId}/opt-out": Operation(
            "Opt a user out of (or back into) RichRelevance profiling (Profile Command API)",
            _model(OptOutBody),
            {"userId": {"type": "string", "minLength": 1, "maxLength": MAX_USER_ID_CHARS}},
            {200: "RichRelevance accepted the opt-out", 202: "Queued for retry"},
            idempotency_key=True,
        ),
        "PUT /v1/richrelevance/content": Operation(
            "Insert or replace content catalog items (Content Update API), sent in chunks",
            _non_empty_array_of(PutContentItem),
            success={200: "Every chunk accepted: its trackingId", 202: "Chunks queued for retry"},
            idempotency_key=True,
        ),
        "PATCH /v1/richrelevance/content": Operation(
            "Update properties of content catalog items (Content Update API), sent in chunks",
            _non_empty_array_of(ContentItem),
            success={200: "Every chunk accepted: its trackingId", 202: "Chunks queued for retry"},
            idempotency_key=True,
        ),
    }


PROBLEM: Schema = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def document(template: Template | None = None) -> dict[str, Any]:
    template = template or Template()
    operations = _operations()
    components: dict[str, Schema] = {"Problem": PROBLEM}
    paths: dict[str, dict[str, Any]] = {}
    for fn in template.functions():
        for route in fn.routes:
            key = f"{route.method} {route.path}"
            if key not in operations:
                raise KeyError(f"{key} ({fn.logical_id}) has no entry in devserver/openapi.py")
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(
                operations[key],
                route,
                _operation_id(fn.logical_id, route, len(fn.routes)),
                components,
            )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Activation Gateway",
            "version": "1",
            "description": "One HTTP API in front of Treasure Data, Rokt and RichRelevance.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "AWS Signature Version 4 (API Gateway IAM authorization)",
                }
            },
        },
    }


def _operation_id(function: str, route: Route, routes: int) -> str:
    """The function's logical id; with several routes (ids must be unique) plus the method and
    the route's last literal segment: RichRelevanceFunction_patch_content."""
    if routes == 1:
        return function
    literal = [s for s in route.path.split("/") if s and not s.startswith("{")][-1]
    return f"{function}_{route.method.lower()}_{literal.replace('-', '_')}"


def _operation(
    op: Operation, route: Route, function: str, components: dict[str, Schema]
) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in op.parameters.items()
    ]
    if op.idempotency_key:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Repeat a write safely: the first answer is returned again.",
                "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
            }
        )
    problem = {
        "description": "Problem details (RFC 9457) with a stable `code`",
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }
    responses: dict[str, Any] = {
        str(status): {"description": text}
        | ({"content": {"application/json": {"schema": {}}}} if status != 204 else {})
        for status, text in op.success.items()
    }
    responses |= {"4XX": problem, "5XX": problem}
    schema = op.body(components)
    operation: dict[str, Any] = {
        "operationId": function,
        "summary": op.summary,
        "parameters": parameters,
        "requestBody": {
            "required": True,
            "content": {media: {"schema": schema} for media in op.media_types},
        },
        "responses": responses,
    }
    if route.auth == "AWS_IAM":
        operation["security"] = [{"sigv4": []}]
    return operation


def write() -> None:
    DOCUMENT.write_text(json.dumps(document(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write()
