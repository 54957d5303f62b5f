"""PersonalizationFunction: POST /v1/personalization/{database}/{table} -> Treasure Data
Real-time Personalization API; /v1/personalization/public/{database}/{table} is the same call
under the path TD's browser SDK (`fetchPersonalization`) builds from its endpoint."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway import td_personalization
from gateway.http_api import create_app, raw_body, vendor_response
from gateway.observability import instrumented
from gateway.td_personalization import PersonalizationRequest

app = create_app()


@app.post("/v1/personalization/<database>/<table>")
@app.post("/v1/personalization/public/<database>/<table>")
def personalization(database: str, table: str) -> Response[str]:
    request = PersonalizationRequest.model_validate(
        {"database": database, "table": table, "event": raw_body(app.current_event)}
    )
    return vendor_response(td_personalization.personalize(request))


@instrumented()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
