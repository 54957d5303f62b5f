"""RoktExperienceFunction: POST /v1/rokt/experiences -> Rokt V2 Partner Experiences API."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway import rokt
from gateway.http_api import create_app, raw_body, vendor_response
from gateway.observability import instrumented
from gateway.rokt_request import ExperienceRequest

# The caller's x-correlation-id (else API Gateway's request id) is the logs' correlation id
# and goes to Rokt as rokt-client-unique-id.
CORRELATION_ID_PATH = 'headers."x-correlation-id" || requestContext.requestId'

app = create_app()


@app.post("/v1/rokt/experiences")
def experiences() -> Response[str]:
    request = ExperienceRequest.from_body(raw_body(app.current_event))
    return vendor_response(rokt.fetch_experience(request, deadline=app.lambda_context))


@instrumented(correlation_id_path=CORRELATION_ID_PATH)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
