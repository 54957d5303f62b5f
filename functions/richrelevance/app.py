"""RichRelevanceFunction: opt-out (Profile Command API) and content catalog updates (Content
Update API), server-to-server behind AWS_IAM."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway.context import Context
from gateway.core.observability import instrumented
from gateway.delivery import policy
from gateway.http.app import create_app
from gateway.http.request import caller, idempotency_key, json_body, json_object_body
from gateway.http.responses import outcome_response
from gateway.vendors.richrelevance import content, profile
from gateway.vendors.richrelevance.content_items import Method

context = Context()
app = create_app()


@app.put("/v1/richrelevance/users/<user_id>/opt-out")
def opt_out(user_id: str) -> Response[str]:
    event = app.current_event
    # API Gateway's pathParameters hold the decoded value; the route match sees the raw path.
    user_id = (event.path_parameters or {}).get("userId", user_id)
    body = json_object_body(event, max_bytes=profile.MAX_BODY_BYTES)
    request = profile.opt_out_request(user_id, body)
    answer = policy.submit(
        context, request, idempotency_key=idempotency_key(event), caller=caller(event)
    )
    return outcome_response(answer)


@app.put("/v1/richrelevance/content")
def put_content() -> Response[str]:
    return _content("PUT")


@app.patch("/v1/richrelevance/content")
def patch_content() -> Response[str]:
    return _content("PATCH")


def _content(method: Method) -> Response[str]:
    event = app.current_event
    body = json_body(event, max_bytes=content.MAX_BODY_BYTES)
    answer = content.update(
        context, method, body, idempotency_key=idempotency_key(event), caller=caller(event)
    )
    return outcome_response(answer)


@instrumented()
def lambda_handler(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context.bind(lambda_context))
