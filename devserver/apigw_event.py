"""Builds API Gateway HTTP API (payload format 2.0) events, as API Gateway hands them to Lambda."""

from __future__ import annotations

import base64
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from devserver.template import Route

_PARAM = re.compile(r"\{(\w+)\+?\}")
LOCAL_ACCOUNT = "123456789012"
# SigV4: `AWS4-HMAC-SHA256 Credential=<access key>/<date>/<region>/<service>/aws4_request, ...`
_SIGV4_CREDENTIAL = re.compile(r"^AWS4-HMAC-SHA256\s+.*?Credential=([A-Za-z0-9]+)/", re.DOTALL)


def iam_authorizer(authorization: str | None, *, default_caller: str) -> dict[str, Any]:
    """`requestContext.authorizer` of an AWS_IAM route. API Gateway names the verified signer;
    the local runtime verifies nothing, but takes the signer's access key from a SigV4 header's
    credential scope, so that two differently signed requests act as two principals."""
    m = _SIGV4_CREDENTIAL.match((authorization or "").strip())
    access_key = m[1] if m else "AKIALOCAL"
    caller = m[1] if m else default_caller
    return {
        "iam": {
            "accessKey": access_key,
            "accountId": LOCAL_ACCOUNT,
            "callerId": caller,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{LOCAL_ACCOUNT}:user/{caller}",
            "userId": caller,
        }
    }


def route_regex(route: Route) -> re.Pattern[str]:
    """`/v1/postback/{database}/{table}` -> a regex over the raw (still encoded) path."""
    segments = [
        f"(?P<{m[1]}>[^/]+)" if (m := _PARAM.fullmatch(segment)) else re.escape(segment)
        for segment in route.path.split("/")
    ]
    return re.compile("/".join(segments))


def http_api_event(
    route: Route,
    raw_path: str,
    *,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    raw_query: str = "",
    source_ip: str = "127.0.0.1",
    iam_caller: str | None = None,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": route.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if iam_caller:
        authorizer = iam_authorizer(None, default_caller=iam_caller)
    if authorizer:
        event["requestContext"]["authorizer"] = authorizer
    if raw_query:
        pairs = (part.partition("=") for part in raw_query.split("&"))
        event["queryStringParameters"] = {key: value for key, _, value in pairs}
    if body is not None:
        data = body.encode() if isinstance(body, str) else body
        try:
            event["body"] = data.decode()
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(data).decode()
            event["isBase64Encoded"] = True
    return event


def event_for(
    route: Route, *, path_parameters: dict[str, str] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """An event for `route` with its `{params}` filled in (URL-encoded as on the wire)."""
    params = path_parameters or {}
    raw_path = _PARAM.sub(lambda m: quote(params[m[1]], safe=""), route.path)
    return http_api_event(route, raw_path, path_parameters=params, **kwargs)
