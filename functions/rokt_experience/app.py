"""RoktExperienceFunction: POST /v1/rokt/experiences -> Rokt V2 Partner Experiences API."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway.context import Context
from gateway.core.observability import instrumented
from gateway.http.app import create_app
from gateway.http.request import raw_body
from gateway.http.responses import outcome_response
from gateway.vendors.rokt.client import fetch_experience
from gateway.vendors.rokt.request import ExperienceRequest

# The caller's x-correlation-id (else API Gateway's request id) is the logs' correlation id
# and goes to Rokt as rokt-client-unique-id.
CORRELATION_ID_PATH = 'headers."x-correlation-id" || requestContext.requestId'

context = Context()
app = create_app()


@app.post("/v1/rokt/experiences")
def experiences() -> Response[str]:
    request = ExperienceRequest.from_body(raw_body(app.current_event))
    return outcome_response(fetch_experience(context, request))


@instrumented(correlation_id_path=CORRELATION_ID_PATH)
def lambda_handler(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context.bind(lambda_context))
