"""PersonalizationFunction: POST /v1/personalization/{database}/{table} -> Treasure Data
Real-time Personalization API; /v1/personalization/public/{database}/{table} is the same call
under the path TD's browser SDK (`fetchPersonalization`) builds from its endpoint."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway.context import Context
from gateway.core.observability import instrumented
from gateway.http.app import create_app
from gateway.http.request import raw_body
from gateway.http.responses import outcome_response
from gateway.vendors.td import personalization
from gateway.vendors.td.personalization import PersonalizationRequest

context = Context()
app = create_app(lambda: context)


@app.post("/v1/personalization/<database>/<table>")
@app.post("/v1/personalization/public/<database>/<table>")
def personalize(database: str, table: str) -> Response[str]:
    request = PersonalizationRequest.accepted(context, database, table, raw_body(app.current_event))
    outcome = personalization.personalize(context, request)
    return outcome_response(personalization.answer(context, outcome))


@instrumented()
def lambda_handler(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context.bind(lambda_context))
