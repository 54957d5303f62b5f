"""RichRelevanceFunction: opt-out (Profile Command API) and content catalog updates (Content
Update API), server-to-server behind AWS_IAM."""

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway import rr_content, rr_profile, writes
from gateway.http_api import (
    create_app,
    idempotency_key,
    json_body,
    json_object_body,
    vendor_response,
)
from gateway.observability import instrumented
from gateway.rr_content_items import Method

app = create_app()


@app.put("/v1/richrelevance/users/<user_id>/opt-out")
def opt_out(user_id: str) -> Response[str]:
    # API Gateway's pathParameters hold the decoded value; the route match sees the raw path.
    user_id = (app.current_event.path_parameters or {}).get("userId", user_id)
    body = json_object_body(app.current_event, max_bytes=rr_profile.MAX_BODY_BYTES)
    request = rr_profile.opt_out_request(user_id, body)
    key = idempotency_key(app.current_event)
    return vendor_response(writes.submit(request, idempotency_key=key))


@app.put("/v1/richrelevance/content")
def put_content() -> Response[str]:
    return _content("PUT")


@app.patch("/v1/richrelevance/content")
def patch_content() -> Response[str]:
    return _content("PATCH")


def _content(method: Method) -> Response[str]:
    body = json_body(app.current_event, max_bytes=rr_content.MAX_BODY_BYTES)
    key = idempotency_key(app.current_event)
    status, answer, replayed = rr_content.update_once(method, body, idempotency_key=key)
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(answer),
        headers={"Idempotency-Replayed": "true"} if replayed else None,
    )


@instrumented()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
