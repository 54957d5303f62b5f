"""RichRelevanceFunction: opt-out (Profile Command API) and content catalog updates (Content
Update API), server-to-server behind AWS_IAM."""

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway import rr_content, rr_profile, writes
from gateway.http_api import create_app, json_body, json_object_body, vendor_response
from gateway.observability import instrumented
from gateway.rr_content_items import Method

app = create_app()


@app.put("/v1/richrelevance/users/<user_id>/opt-out")
def opt_out(user_id: str) -> Response[str]:
    # API Gateway's pathParameters hold the decoded value; the route match sees the raw path.
    user_id = (app.current_event.path_parameters or {}).get("userId", user_id)
    body = json_object_body(app.current_event, max_bytes=rr_profile.MAX_BODY_BYTES)
    return vendor_response(writes.submit(rr_profile.opt_out_request(user_id, body)))


@app.put("/v1/richrelevance/content")
def put_content() -> Response[str]:
    return _content("PUT")


@app.patch("/v1/richrelevance/content")
def patch_content() -> Response[str]:
    return _content("PATCH")


def _content(method: Method) -> Response[str]:
    body = json_body(app.current_event, max_bytes=rr_content.MAX_BODY_BYTES)
    update = rr_content.update(method, body)
    return Response(
        status_code=update.status,
        content_type="application/json",
        body=json.dumps(update.body()),
    )


@instrumented()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
