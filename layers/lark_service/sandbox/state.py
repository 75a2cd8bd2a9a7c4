"""The sandbox's memory and rules, free of HTTP so they can be tested on their own.

Everything here follows Lark's documentation: tokens live two hours, a call with at least
30 minutes left returns the same token (``expire`` is then the remaining seconds), a call with
less returns a new one; error codes and rate-limit headers are the documented ones. The clock is
an offset over wall time so a test can jump two hours ahead without waiting.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

TOKEN_LIFETIME = 2 * 60 * 60
REISSUE_BELOW = 30 * 60
UUID_WINDOW = 60 * 60  # message create/reply de-duplicate on `uuid` for an hour
# "Update an app-sent message card" (PATCH im/v1/messages/:message_id), open.feishu.cn
# document server-docs/im-v1/message-card/patch: only cards sent within 14 days, by the same app,
# declaring "update_multi": true in their config before and after the update.
PATCH_WINDOW = 14 * 24 * 60 * 60

CODE_INVALID_PARAM = 10003
CODE_APP_TICKET_INVALID = 10012
CODE_APP_SECRET_INVALID = 10014
CODE_MISSING_TOKEN = 99991661
CODE_TENANT_TOKEN_INVALID = 99991663
CODE_APP_TOKEN_INVALID = 99991664
CODE_TOKEN_FORMAT = 99991671
CODE_RATE_LIMITED = 99991400
CODE_FIELD_VALIDATION = 99992402
CODE_MESSAGE_PARAM = 230001
CODE_NOT_SENDER = 230012  # "Bot is NOT the sender of the message" (im v1 message error codes)
CODE_PATCH_TOO_OLD = 230031  # "Message can only be modified within 14 days after sending" (patch doc)
CODE_SERVER_ERROR = 55001

MSG_TYPES = frozenset(
    {"text", "post", "image", "file", "audio", "media", "sticker", "interactive", "share_chat", "share_user"}
)
RECEIVE_ID_TYPES = frozenset({"open_id", "user_id", "union_id", "email", "chat_id"})

FaultKind = Literal["server_error", "timeout", "rate_limit", "invalid_token"]
FAULT_KINDS: frozenset[str] = frozenset({"server_error", "timeout", "rate_limit", "invalid_token"})


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to hold the answer back (the "timeout" fault)


@dataclass(frozen=True, slots=True)
class SandboxApp:
    app_id: str
    app_secret: str
    app_type: Literal["self_built", "marketplace"] = "self_built"


@dataclass(slots=True)
class FaultRule:
    """Answer requests whose path matches ``path`` (a glob) with a fault, ``count`` times (None: always)."""

    path: str
    kind: FaultKind
    count: int | None = 1
    method: str | None = None
    status: int = 500
    delay: float = 5.0
    reset: int = 1
    code: int = CODE_TENANT_TOKEN_INVALID

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path)


@dataclass(slots=True)
class _Issued:
    token: str
    kind: str
    app_id: str
    tenant_key: str | None
    expires_at: float
    revoked: bool = False


class SandboxClock:
    """Wall time plus an offset that tests move forward."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
            return self._offset


class SandboxState:
    """Apps, issued tokens and tickets, sent messages, scripted faults and the request record."""

    def __init__(self, apps: list[SandboxApp] | None = None) -> None:
        self.clock = SandboxClock()
        self.apps: dict[str, SandboxApp] = {a.app_id: a for a in (apps or [])}
        self._lock = threading.RLock()
        self._tokens: dict[str, _Issued] = {}
        self._current: dict[tuple[str, str, str | None], str] = {}
        self._tickets: dict[str, list[str]] = {}
        self._invalid_tickets: set[str] = set()
        self._faults: list[FaultRule] = []
        self._requests: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._by_uuid: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._known_messages: dict[str, str] = {}
        self._sent: dict[str, dict[str, Any]] = {}  # message_id -> its record in _messages
        for app in self.apps.values():
            if app.app_type == "marketplace":
                self.issue_ticket(app.app_id)

    # --- control -----------------------------------------------------------------------------
    def add_fault(self, rule: FaultRule) -> None:
        if rule.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {sorted(FAULT_KINDS)}, got {rule.kind!r}")
        with self._lock:
            self._faults.append(rule)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._requests]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._messages)

    def revoke_tokens(self) -> int:
        """Invalidate every issued token, as a secret reset does; the next token call issues anew."""
        with self._lock:
            live = [t for t in self._tokens.values() if not t.revoked]
            for issued in live:
                issued.revoked = True
            self._current.clear()
            return len(live)

    def issue_ticket(self, app_id: str) -> str:
        ticket = "ticket-" + secrets.token_hex(12)
        with self._lock:
            self._tickets.setdefault(app_id, []).append(ticket)
        return ticket

    def current_ticket(self, app_id: str) -> str | None:
        with self._lock:
            issued = self._tickets.get(app_id) or []
            return issued[-1] if issued else None

    def invalidate_tickets(self, app_id: str) -> None:
        with self._lock:
            self._invalid_tickets.update(self._tickets.get(app_id, []))

    def seed_message(self, message_id: str, chat_id: str) -> None:
        """Make a message known (as one a user sent), so replies land in its chat."""
        with self._lock:
            self._known_messages[message_id] = chat_id

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "now": self.clock.now(),
                "faults": [asdict(f) for f in self._faults],
                "tokens_issued": len(self._tokens),
            }

    # --- the API -----------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Reply:
        """Answer one Open API request and record it."""
        body: Any
        try:
            body = json.loads(raw) if raw else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = raw.decode("utf-8", "replace")
        fault = self._take_fault(method, path)
        if fault is not None and fault.kind != "timeout":
            reply = _fault_reply(fault)
        else:
            reply = self._route(method, path, query, headers, body if isinstance(body, dict) else None)
            if fault is not None:
                reply = Reply(reply.status, reply.body, reply.headers, delay=fault.delay)
        with self._lock:
            self._requests.append(
                {
                    "seq": len(self._requests) + 1,
                    "at": self.clock.now(),
                    "method": method,
                    "path": path,
                    "query": query,
                    "headers": headers,
                    "body": body,
                    "status": reply.status,
                    "code": reply.body.get("code"),
                    "fault": fault.kind if fault else None,
                }
            )
        return reply

    def _take_fault(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self._faults:
                if rule.matches(method, path):
                    if rule.count is not None:
                        rule.count -= 1
                    return rule
        return None

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: dict[str, Any] | None,
    ) -> Reply:
        parts = path.split("/")
        if method == "PATCH" and len(parts) == 6 and path.startswith("/open-apis/im/v1/messages/"):
            if body is None:
                return _error(400, CODE_INVALID_PARAM, "invalid param: body is not a JSON object")
            return self._patch(parts[5], headers, body)
        if method != "POST":
            return Reply(404, {"code": 404, "msg": "404 page not found"})
        if body is None:
            return _error(400, CODE_INVALID_PARAM, "invalid param: body is not a JSON object")
        auth = "/open-apis/auth/v3/"
        if path == auth + "tenant_access_token/internal":
            return self._internal_token(body, "tenant_access_token")
        if path == auth + "app_access_token/internal":
            return self._internal_token(body, "app_access_token")
        if path == auth + "app_access_token":
            return self._marketplace_app_token(body)
        if path == auth + "tenant_access_token":
            return self._marketplace_tenant_token(body)
        if path == auth + "app_ticket/resend":
            return self._resend_ticket(body)
        if path == "/open-apis/im/v1/messages":
            return self._send(query, headers, body)
        if len(parts) == 7 and path.startswith("/open-apis/im/v1/messages/") and parts[6] == "reply":
            return self._reply(parts[5], headers, body)
        return Reply(404, {"code": 404, "msg": "404 page not found"})

    # --- auth --------------------------------------------------------------------------------
    def _app(self, body: dict[str, Any]) -> SandboxApp | Reply:
        app = self.apps.get(str(body.get("app_id", "")))
        if app is None:
            return _error(400, CODE_INVALID_PARAM, "invalid param")
        if not secrets.compare_digest(str(body.get("app_secret", "")), app.app_secret):
            return _error(400, CODE_APP_SECRET_INVALID, "app secret invalid")
        return app

    def _internal_token(self, body: dict[str, Any], kind: str) -> Reply:
        app = self._app(body)
        if isinstance(app, Reply):
            return app
        if app.app_type != "self_built":
            return _error(
                400, CODE_INVALID_PARAM, "invalid param: a store app gets tokens with its app_ticket"
            )
        token, expire = self._issue(kind, app.app_id, None)
        return Reply(200, {"code": 0, "msg": "ok", kind: token, "expire": expire})

    def _marketplace_app_token(self, body: dict[str, Any]) -> Reply:
        app = self._app(body)
        if isinstance(app, Reply):
            return app
        ticket = str(body.get("app_ticket", ""))
        with self._lock:
            valid = ticket in self._tickets.get(app.app_id, []) and ticket not in self._invalid_tickets
        if not valid:
            return _error(400, CODE_APP_TICKET_INVALID, "app_ticket is invalid")
        token, expire = self._issue("app_access_token", app.app_id, None)
        return Reply(200, {"code": 0, "msg": "ok", "app_access_token": token, "expire": expire})

    def _marketplace_tenant_token(self, body: dict[str, Any]) -> Reply:
        app_token = self._live(str(body.get("app_access_token", "")), "app_access_token")
        tenant_key = str(body.get("tenant_key", ""))
        if app_token is None:
            return _error(400, CODE_APP_TOKEN_INVALID, "app access token is invalid")
        if not tenant_key:
            return _error(400, CODE_INVALID_PARAM, "invalid param: tenant_key")
        token, expire = self._issue("tenant_access_token", app_token.app_id, tenant_key)
        return Reply(200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire})

    def _resend_ticket(self, body: dict[str, Any]) -> Reply:
        app = self._app(body)
        if isinstance(app, Reply):
            return app
        self.issue_ticket(app.app_id)
        return Reply(200, {"code": 0, "msg": "ok"})

    def _issue(self, kind: str, app_id: str, tenant_key: str | None) -> tuple[str, int]:
        now = self.clock.now()
        with self._lock:
            current = self._tokens.get(self._current.get((kind, app_id, tenant_key), ""))
            if current and not current.revoked and current.expires_at - now >= REISSUE_BELOW:
                return current.token, int(current.expires_at - now)
            token = "t-" + secrets.token_hex(16)
            self._tokens[token] = _Issued(token, kind, app_id, tenant_key, now + TOKEN_LIFETIME)
            self._current[(kind, app_id, tenant_key)] = token
            return token, TOKEN_LIFETIME

    def _live(self, token: str, kind: str) -> _Issued | None:
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None or issued.revoked or issued.kind != kind or issued.expires_at <= self.clock.now():
            return None
        return issued

    # --- messages ----------------------------------------------------------------------------
    def _caller(self, headers: dict[str, str]) -> _Issued | Reply:
        auth = headers.get("authorization", "")
        if not auth:
            return _error(400, CODE_MISSING_TOKEN, "Missing access token for authorization")
        scheme, _, token = auth.partition(" ")
        if scheme != "Bearer" or not token.startswith(("t-", "u-")):
            return _error(400, CODE_TOKEN_FORMAT, "Invalid access token format: expected 'Bearer t-...'")
        issued = self._live(token, "tenant_access_token")
        if issued is None:
            return _error(400, CODE_TENANT_TOKEN_INVALID, "Invalid access token for authorization")
        return issued

    def _message_body(self, body: dict[str, Any]) -> tuple[str, str] | Reply:
        msg_type, content = body.get("msg_type"), body.get("content")
        if msg_type not in MSG_TYPES:
            return _error(400, CODE_MESSAGE_PARAM, f"invalid msg_type {msg_type!r}")
        if not isinstance(content, str):
            return _error(400, CODE_MESSAGE_PARAM, "content must be a JSON-encoded string")
        try:
            parsed = json.loads(content)
        except json.JSONDecodeError:
            return _error(400, CODE_MESSAGE_PARAM, "content is not valid JSON")
        if not isinstance(parsed, dict) or (msg_type == "text" and not isinstance(parsed.get("text"), str)):
            return _error(400, CODE_MESSAGE_PARAM, 'content of a text message must be {"text": ...}')
        return str(msg_type), content

    def _reply(self, message_id: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        caller = self._caller(headers)
        if isinstance(caller, Reply):
            return caller
        if not message_id.startswith("om_"):
            return _error(400, CODE_MESSAGE_PARAM, f"invalid message_id {message_id!r}")
        with self._lock:
            chat_id = self._known_messages.get(message_id, "oc_sandbox_chat")
        return self._deliver(caller, body, chat_id=chat_id, parent_id=message_id)

    def _send(self, query: dict[str, str], headers: dict[str, str], body: dict[str, Any]) -> Reply:
        caller = self._caller(headers)
        if isinstance(caller, Reply):
            return caller
        id_type = query.get("receive_id_type", "")
        if id_type not in RECEIVE_ID_TYPES:
            return _error(400, CODE_FIELD_VALIDATION, f"field validation failed: receive_id_type {id_type!r}")
        receive_id = body.get("receive_id")
        if not isinstance(receive_id, str) or not receive_id:
            return _error(400, CODE_FIELD_VALIDATION, "field validation failed: receive_id")
        chat_id = receive_id if id_type == "chat_id" else "oc_p2p_" + receive_id
        return self._deliver(caller, body, chat_id=chat_id, parent_id=None)

    def _deliver(
        self, caller: _Issued, body: dict[str, Any], *, chat_id: str, parent_id: str | None
    ) -> Reply:
        checked = self._message_body(body)
        if isinstance(checked, Reply):
            return checked
        msg_type, content = checked
        uuid = body.get("uuid")
        now = self.clock.now()
        with self._lock:
            if isinstance(uuid, str) and uuid:
                seen = self._by_uuid.get((caller.app_id, uuid))
                if seen and now - seen[0] < UUID_WINDOW:
                    return Reply(200, {"code": 0, "msg": "success", "data": seen[1]})
            message = {
                "message_id": "om_" + secrets.token_hex(12),
                "root_id": parent_id,
                "parent_id": parent_id,
                "msg_type": msg_type,
                "create_time": str(int(now * 1000)),
                "chat_id": chat_id,
                "sender": {"id": caller.app_id, "id_type": "app_id", "sender_type": "app"},
                "body": {"content": content},
            }
            if isinstance(uuid, str) and uuid:
                self._by_uuid[(caller.app_id, uuid)] = (now, message)
            record: dict[str, Any] = {
                **message,
                "tenant_key": caller.tenant_key,
                "uuid": uuid,
                "update_count": 0,
                "history": [],
            }
            self._messages.append(record)
            self._sent[record["message_id"]] = record
        return Reply(200, {"code": 0, "msg": "success", "data": message})

    def _patch(self, message_id: str, headers: dict[str, str], body: dict[str, Any]) -> Reply:
        """Replace a sent card's content; the record keeps every earlier content in ``history``.

        Request and response as ``lark_oapi/api/im/v1/model/patch_message_request_body.py``
        (``content: str``) and ``patch_message_response.py`` (no ``data`` fields) define them.
        """
        caller = self._caller(headers)
        if isinstance(caller, Reply):
            return caller
        checked = self._message_body({"msg_type": "interactive", "content": body.get("content")})
        if isinstance(checked, Reply):
            return checked
        _, content = checked
        now = self.clock.now()
        with self._lock:
            record = self._sent.get(message_id)
            if record is None:
                return _error(400, CODE_MESSAGE_PARAM, f"invalid message_id {message_id!r}: no such message")
            if record["sender"]["id"] != caller.app_id:
                return _error(400, CODE_NOT_SENDER, "Bot is NOT the sender of the message")
            if record["msg_type"] != "interactive":
                return _error(400, CODE_MESSAGE_PARAM, "only interactive (card) messages can be updated")
            if now - int(record["create_time"]) / 1000 > PATCH_WINDOW:
                return _error(
                    400, CODE_PATCH_TOO_OLD, "Message can only be modified within 14 days after sending"
                )
            if not (_shared_card(record["body"]["content"]) and _shared_card(content)):
                return _error(
                    400,
                    CODE_MESSAGE_PARAM,
                    'a card is updated only when its config has "update_multi": true before and after',
                )
            record["history"].append(record["body"]["content"])
            record["body"] = {"content": content}
            record["updated"] = True
            record["update_time"] = str(int(now * 1000))
            record["update_count"] += 1
        return Reply(200, {"code": 0, "msg": "success", "data": {}})


def _shared_card(content: str) -> bool:
    card = json.loads(content)
    config = card.get("config") if isinstance(card, dict) else None
    return isinstance(config, dict) and config.get("update_multi") is True


def _error(status: int, code: int, msg: str) -> Reply:
    return Reply(status, {"code": code, "msg": msg})


def _fault_reply(fault: FaultRule) -> Reply:
    if fault.kind == "rate_limit":
        return Reply(
            429,
            {"code": CODE_RATE_LIMITED, "msg": "request trigger frequency limit"},
            {"x-ogw-ratelimit-limit": "50", "x-ogw-ratelimit-reset": str(fault.reset)},
        )
    if fault.kind == "invalid_token":
        return _error(400, fault.code, "Invalid access token for authorization")
    return _error(fault.status, CODE_SERVER_ERROR, "internal server error")
