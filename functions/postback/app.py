"""PostbackFunction: POST /v1/postback/{database}/{table} -> Treasure Data Postback API."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway import writes
from gateway.http_api import create_app, idempotency_key, raw_body, vendor_response
from gateway.observability import instrumented
from gateway.td_postback import PostbackRequest

app = create_app()


@app.post("/v1/postback/<database>/<table>")
def postback(database: str, table: str) -> Response[str]:
    request = PostbackRequest.model_validate(
        {"database": database, "table": table, "record": raw_body(app.current_event)}
    )
    key = idempotency_key(app.current_event)
    return vendor_response(writes.submit(request, idempotency_key=key))


@instrumented()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
