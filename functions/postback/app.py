"""PostbackFunction: POST /v1/postback/{database}/{table} -> Treasure Data Postback API, and
POST /v1/td/{database}/{table}: what TD's browser SDK sends, one Postback delivery per event."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway.context import Context
from gateway.core.observability import instrumented
from gateway.delivery import policy
from gateway.http.app import create_app
from gateway.http.request import caller, idempotency_key, raw_body
from gateway.http.responses import outcome_response
from gateway.vendors.td import js_sdk
from gateway.vendors.td.postback import PostbackRequest

context = Context()
app = create_app(lambda: context)


@app.post("/v1/postback/<database>/<table>")
def postback(database: str, table: str) -> Response[str]:
    event = app.current_event
    request = PostbackRequest.accepted(context, database, table, raw_body(event))
    answer = policy.submit(
        context, request, idempotency_key=idempotency_key(event), caller=caller(event)
    )
    return outcome_response(answer)


@app.post("/v1/td/<database>/<table>")
def td_js_sdk(database: str, table: str) -> Response[str]:
    # The browser's `Authorization: TD1 <writeKey>` is never read: TD gets the gateway's key.
    event = app.current_event
    answer = js_sdk.ingest(
        context,
        database,
        table,
        raw_body(event),
        idempotency_key=idempotency_key(event),
        caller=caller(event),
    )
    return outcome_response(answer)


@instrumented()
def lambda_handler(event: dict[str, Any], lambda_context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context.bind(lambda_context))
