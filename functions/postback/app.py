"""PostbackFunction: POST /v1/postback/{database}/{table} -> Treasure Data Postback API, and
POST /v1/td/{database}/{table}: what TD's browser SDK sends, one Postback delivery per event."""

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from gateway import td_js_sdk, writes
from gateway.http_api import create_app, idempotency_key, raw_body, vendor_response
from gateway.observability import instrumented
from gateway.td_names import check_name
from gateway.td_postback import PostbackRequest

app = create_app()


@app.post("/v1/postback/<database>/<table>")
def postback(database: str, table: str) -> Response[str]:
    request = PostbackRequest.model_validate(
        {"database": database, "table": table, "record": raw_body(app.current_event)}
    )
    key = idempotency_key(app.current_event)
    return vendor_response(writes.submit(request, idempotency_key=key))


@app.post("/v1/td/<database>/<table>")
def td_js_sdk_events(database: str, table: str) -> Response[str]:
    # The browser's `Authorization: TD1 <writeKey>` is never read: TD gets the gateway's key.
    event = app.current_event
    check_name(database, what="database")
    check_name(table, what="table")
    td_js_sdk.check_media_type(event.headers.get("content-type"))
    records = td_js_sdk.parse_events(raw_body(event))
    keys = td_js_sdk.idempotency_keys(idempotency_key(event), len(records))
    outcomes = [
        writes.submit(
            PostbackRequest(database=database, table=table, record=record), idempotency_key=key
        )
        for record, key in zip(records, keys, strict=True)
    ]
    status, body = td_js_sdk.answer(outcomes)
    replayed = any(o.replayed for o in outcomes)
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body),
        headers={"Idempotency-Replayed": "true"} if replayed else None,
    )


@instrumented()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
