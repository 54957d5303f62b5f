"""Treasure Data Real-time Personalization API sandbox
(the vendor document as summarized in docs/td-personalization.md).

POST /{database}/{table} with the document's three headers: 204 when the event is ingested, or
200 with a personalization body for the tables given one (`personalizations`). Every error code
of the document can be produced on demand: `POST /_sandbox/faults {"code": 3001, "count": 1}`
answers with the code's status and body (the other fault fields work as usual)."""

from __future__ import annotations

import json
import re
from typing import Any

from devserver.vendors.base import Reply, Request, VendorSandbox

PATH = re.compile(r"/(?P<database>[^/]+)/(?P<table>[^/]+)")
NAME = re.compile(r"[0-9a-z_]{3,128}")
CONTENT_TYPE = "application/vnd.treasuredata.v1+json"

# The document's codes with its own words; the status is the heading they are listed under.
CODES: dict[int, tuple[int, str]] = {
    3000: (400, "RTトークンが提供されませんでした(X-Tokenヘッダー)"),
    3001: (400, "RTトークンが設定にありません"),
    3002: (400, "RTトークンアカウントが認証されたユーザーアカウントと競合しています"),
    3003: (400, "RTトークンの形式が無効です"),
    3004: (400, "無効なイベントオブジェクト。"),
    2003: (429, "制限を超えたことによるKinesisエラー"),
    2013: (429, "Lambdaの総同時実行数が予約された同時実行数を超えています"),
    9999: (500, "不明/未診断"),
    1001: (500, "TD APIに到達できないか、タイムアウトしました"),
    1002: (500, "テーブルAPIに到達できないか、タイムアウトしました"),
    1003: (500, "Kinesisに到達できないか、タイムアウトしました"),
    1004: (500, "Lambdaに到達できないか、タイムアウトしました"),
    1005: (500, "MemoryDBに到達できないか、タイムアウトしました"),
    2001: (500, "Kinesisストリームが見つかりませんでした"),
    2002: (500, "Kinesis操作がエラーをスローしました"),
    2011: (500, "Lambda関数が見つかりませんでした"),
    2012: (500, "Lambda関数がエラーをスローしたか、レスポンスが処理されませんでした"),
    2014: (500, "Lambda呼び出しが失敗しました"),
    2015: (500, "Lambdaリアクター設定にまだトークンがありません"),
    2021: (500, "MemoryDB操作がエラーをスローしました"),
    3010: (
        500,
        "RTトークンは、トークンが一貫性のない(アカウントまたはリアクターID)リアクターで設定されています",
    ),
}
REASONS = {400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}

# The document's example URL answers with offers, so `make run` shows a 200 out of the box.
EXAMPLE_PERSONALIZATION = {
    "offers": {
        "hero_banner": {"attributes": {"headline": "Welcome back", "segment": "returning"}},
    },
}


def error_body(code: int, status: int | None = None) -> tuple[int, dict[str, Any]]:
    """The status and body TD answers with for `code` (codes outside the document: 400 3xxx,
    500 otherwise, unless `status` says)."""
    documented = CODES.get(code)
    if documented is not None:
        status = status or documented[0]
        message = documented[1]
    else:
        status = status or (400 if 3000 <= code < 3010 else 500)
        message = "sandbox: code not described in the document"
    return status, {"error": REASONS.get(status, "Error"), "code": code, "message": message}


class TdPersonalizationSandbox(VendorSandbox):
    name = "td-p13n"

    def __init__(
        self,
        api_key: str = "1/sandbox-td-api-key",
        wp13n_token: str = "1/8/sandbox-p13n-token",  # noqa: S107 (SANDBOX_SECRETS' value)
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.wp13n_token = wp13n_token
        self.personalizations: dict[tuple[str, str], dict[str, Any]] = {}
        self.reset_state()

    def reset_state(self) -> None:
        self.personalizations = {
            ("personalization__database", "preferences_table"): EXAMPLE_PERSONALIZATION
        }

    def add_fault(self, **spec: Any) -> None:
        # {"code": n} is a TD error code: its status and body, as the document lists them.
        code = spec.pop("code", None)
        if code is not None:
            spec["status"], spec["body"] = error_body(int(code), spec.get("status"))
        super().add_fault(**spec)

    def events(self, database: str, table: str) -> list[dict[str, Any]]:
        """The events ingested into database.table, in arrival order."""
        return [r.json() for r in list(self.received) if r.path == f"/{database}/{table}"]

    def handle(self, request: Request) -> Reply:
        match = PATH.fullmatch(request.path)
        if request.method != "POST" or not match:
            return Reply(404, {"error": "Not Found"})
        if request.header("Content-Type") != CONTENT_TYPE:
            return Reply(415, {"error": "Unsupported Media Type", "message": CONTENT_TYPE})
        account = self._api_key_account(request.header("Authorization"))
        if account is None:
            return Reply(401, {"error": "Unauthorized"})
        token_error = self._token_error(request.header("WP13n-Token"), account)
        if token_error is not None:
            return self._error(token_error)
        if not (NAME.fullmatch(match["database"]) and NAME.fullmatch(match["table"])):
            return Reply(404, {"error": "Not Found", "message": "no such database or table"})
        try:
            event = json.loads(request.body)
        except ValueError:
            return self._error(3004)
        if not _valid_event(event):
            return self._error(3004)
        body = self.personalizations.get((match["database"], match["table"]))
        if body is not None:
            return Reply(200, body, content_type=CONTENT_TYPE)
        return Reply(204)

    def _api_key_account(self, authorization: str | None) -> str | None:
        """The account id of a valid `TD1 <account>/<key>` header, else None."""
        if authorization != f"TD1 {self.api_key}":
            return None
        return self.api_key.split("/", 1)[0]

    def _token_error(self, token: str | None, account: str) -> int | None:
        if not token:
            return 3000
        parts = token.split("/")
        if len(parts) != 3 or not all(parts) or not parts[0].isdigit() or not parts[1].isdigit():
            return 3003
        if parts[0] != account:
            return 3002
        if token != self.wp13n_token:
            return 3001
        return None

    @staticmethod
    def _error(code: int) -> Reply:
        status, body = error_body(code)
        return Reply(status, body)


def _valid_event(event: object) -> bool:
    # TD requires epoch seconds in `time` and an event id in `uuid` (docs/td-personalization.md).
    return (
        isinstance(event, dict)
        and isinstance(event.get("time"), int)
        and not isinstance(event.get("time"), bool)
        and isinstance(event.get("uuid"), str)
        and bool(event["uuid"])
    )
