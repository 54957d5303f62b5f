"""Delivery outcomes as HTTP responses: a vendor's success passed through, or 202 for a write
queued for retry; `Idempotency-Replayed` on a saved answer."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response

from gateway.core.outcome import Outcome, Queued


def outcome_response(answer: Outcome) -> Response[str]:
    replayed = {"Idempotency-Replayed": "true"} if answer.replayed else {}
    if isinstance(answer, Queued):
        return Response(
            status_code=202,
            content_type="application/json",
            body=json.dumps({"status": "queued", "retryId": answer.retry_id}),
            headers=replayed or None,
        )
    if answer.status == 204:
        # No content and no type (a None body would be serialized as "null").
        return Response(status_code=204, body="", headers={**answer.headers, **replayed} or None)
    return Response(
        status_code=answer.status,
        content_type=answer.content_type or "application/json",
        body=answer.body,
        headers={**answer.headers, **replayed} or None,
    )
