"""What the sandbox answers: status, body and headers in Lark's shapes, and Lark's error codes.

Shapes, with their sources:
* every Open API answer carries an ``x-tt-logid`` header: the official SDK reads the log id from
  it (``lark_oapi/core/const.py``: ``X_TT_LOGID = "X-Tt-Logid"``; ``lark_oapi/core/model/
  base_response.py``: ``BaseResponse.get_log_id``);
* an im v1 error body is ``{code, msg, error: {log_id, troubleshooter?, field_violations?}}``
  (``lark_oapi/core/model/error.py``: ``Error`` with ``log_id``, ``field_violations`` of
  ``{field, value, description}``, ``troubleshooter``...); a gateway rate limit is the plain
  ``{"code": 99991400, "msg": "request trigger frequency limit"}`` of the 频控策略 page; the
  auth v3 endpoints answer the older plain ``{code, msg}``;
* auth v3 business errors come with HTTP 200 and a non-zero code (larksuite/oapi-sdk-java
  issue 33: "http status code:200, response:{code=10003, msg='invalid param'}"); the im v1
  errors with HTTP 400, as each im v1 page's error table lists them.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

# Spelled as Lark sends it: the SDK looks it up case-sensitively in a plain dict of the answer's
# headers (lark_oapi/core/http/transport.py: ``resp.headers = dict(response.headers)``).
LOG_ID_HEADER = "X-Tt-Logid"

# Auth v3 and gateway codes: 服务端错误码说明 (open.feishu.cn/document/server-docs/api-call-guide/
# generic-error-code) and the auth v3 pages.
CODE_INVALID_PARAM = 10003
CODE_APP_TICKET_INVALID = 10012
CODE_APP_SECRET_INVALID = 10014
CODE_MISSING_TOKEN = 99991661
CODE_TENANT_TOKEN_INVALID = 99991663
CODE_APP_TOKEN_INVALID = 99991664
CODE_TOKEN_FORMAT = 99991671
CODE_RATE_LIMITED = 99991400
CODE_FIELD_VALIDATION = 99992402
CODE_ID_INVALID = 99992351  # "The request you send is not a valid {open_id}..." (larksuite/openclaw-lark#149)
CODE_SERVER_ERROR = 55001

# im v1 message codes: the error tables of the create, reply and patch pages
# (open.feishu.cn/document/server-docs/im-v1/message/create, .../reply, .../message-card/patch).
CODE_MESSAGE_PARAM = 230001  # "Your request contains an invalid request parameter."
CODE_BOT_NOT_IN_CHAT = 230002  # "The bot can not be outside the group."
CODE_RECALLED = 230011  # "The message is recalled."
CODE_NOT_SENDER = 230012  # "Bot is NOT the sender of the message."
CODE_CHAT_RATE_LIMITED = 230020  # "This operation triggers the frequency limit."
CODE_CONTENT_TOO_LONG = 230025  # "The length of the message content reaches its limit."
CODE_PATCH_TOO_OLD = 230031  # "Message can only be modified within 14 days after sending."
CODE_CARD_INVALID = 230099  # "Failed to create card content."

RATE_LIMIT_MSG = "request trigger frequency limit"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to hold the answer back (the "timeout" fault)
    violations: tuple[dict[str, str], ...] = ()  # im v1 field_violations


def ok(body: dict[str, Any]) -> Reply:
    return Reply(200, body)


def error(status: int, code: int, msg: str, *violations: dict[str, str]) -> Reply:
    return Reply(status, {"code": code, "msg": msg}, violations=violations)


def field_error(field_name: str, value: str, description: str) -> Reply:
    """99992402 with one field violation, as Lark's gateway answers a field validation failure."""
    violation = {"field": field_name, "value": value, "description": description}
    return error(400, CODE_FIELD_VALIDATION, "field validation failed", violation)


def rate_limited(status: int, limit: int, reset_seconds: int) -> Reply:
    """The 频控策略 page's answer: 429 (400 on some older APIs) with the two ``x-ogw`` headers."""
    headers = {"x-ogw-ratelimit-limit": str(limit), "x-ogw-ratelimit-reset": str(reset_seconds)}
    return Reply(status, {"code": CODE_RATE_LIMITED, "msg": RATE_LIMIT_MSG}, headers)


def new_log_id(now: float) -> str:
    """Lark's log ids read like ``20260317005028BE5FF297309E7E0C20C4``: UTC time, then hex."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + secrets.token_hex(10).upper()


def finish(reply: Reply, *, log_id: str, envelope: bool) -> Reply:
    """Stamp the log id on the answer; im v1 errors also get the ``error`` object."""
    body = dict(reply.body)
    if envelope and body.get("code") not in (0, None, CODE_RATE_LIMITED):
        details: dict[str, Any] = {
            "log_id": log_id,
            "troubleshooter": f"Troubleshooting suggestions: https://open.feishu.cn/search?log_id={log_id}",
        }
        if reply.violations:
            details["field_violations"] = [dict(v) for v in reply.violations]
        body["error"] = details
    headers = {**reply.headers, LOG_ID_HEADER: log_id}
    return Reply(reply.status, body, headers, reply.delay)
