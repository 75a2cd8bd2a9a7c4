"""The sandbox's memory and rules, free of HTTP so they can be tested on their own.

Each rule cites where Lark states it; ``docs/sandbox.md`` lists what is faithful, what is
simplified and what is not modelled. The clock is injectable (``SandboxClock``), so token
lifetimes, ticket pushes and rate-limit windows are tested without waiting.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import secrets
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lark_service.sandbox import message_rules as rules
from lark_service.sandbox.clock import SandboxClock
from lark_service.sandbox.ratelimit import Limit, WindowLimiter
from lark_service.sandbox.replies import (
    CODE_APP_SECRET_INVALID,
    CODE_APP_TICKET_INVALID,
    CODE_APP_TOKEN_INVALID,
    CODE_BOT_NOT_IN_CHAT,
    CODE_CHAT_RATE_LIMITED,
    CODE_INVALID_PARAM,
    CODE_MESSAGE_PARAM,
    CODE_MISSING_TOKEN,
    CODE_NOT_SENDER,
    CODE_PATCH_TOO_OLD,
    CODE_SERVER_ERROR,
    CODE_TENANT_TOKEN_INVALID,
    CODE_TOKEN_FORMAT,
    LOG_ID_HEADER,
    Reply,
    error,
    field_error,
    finish,
    new_log_id,
    ok,
    rate_limited,
)

# auth v3 pages: tokens live 2 h; with under 30 min left a call returns a new one, otherwise the
# same one with ``expire`` the remaining seconds. Prefixes: ``a-`` for app tokens (store-app
# app_access_token sample "a-6U1SbDiM6XIH2DcTCPyeub"; lark_oapi samples/api/auth/v3/
# create_tenant_access_token_sample.py), ``t-`` for tenant tokens (the tenant token samples).
TOKEN_LIFETIME = 2 * 60 * 60
REISSUE_BELOW = 30 * 60
TOKEN_PREFIX = {"app_access_token": "a-", "tenant_access_token": "t-"}
# app_ticket 事件 page: "开放平台会每隔1小时推送一次 app_ticket". How long one stays valid is not
# published; the sandbox keeps each for 12 h so an app that stops storing pushes finds out.
TICKET_PUSH_EVERY = 60 * 60
TICKET_LIFETIME = 12 * 60 * 60
# create page: "持有相同 uuid 的请求, 在 1 小时内至多成功发送一条消息".
UUID_WINDOW = 60 * 60
# patch page: only cards sent within 14 days, by the same app, "update_multi": true before and after.
PATCH_WINDOW = 14 * 24 * 60 * 60

# create/reply/patch pages: "接口频率限制 1000 次/分钟、50 次/秒" (per API, app and tenant, as the
# 频控策略 page says limits apply); create: "向同一用户发送消息的限频为 5 QPS、向同一群组发送消息的
# 限频为群内机器人共享 5 QPS"; patch: "单条消息更新频控为 5 QPS". The per-chat/user/message
# limits answer 230020 with HTTP 400 (the pages' error tables).
APP_LIMITS: tuple[Limit, ...] = ((50, 1.0), (1000, 60.0))
RECIPIENT_LIMITS: tuple[Limit, ...] = ((5, 1.0),)

IM = "/open-apis/im/v1/messages"
AUTH = "/open-apis/auth/v3/"

FaultKind = Literal["server_error", "timeout", "rate_limit", "invalid_token"]
FAULT_KINDS: frozenset[str] = frozenset({"server_error", "timeout", "rate_limit", "invalid_token"})


@dataclass(frozen=True, slots=True)
class SandboxApp:
    app_id: str
    app_secret: str
    app_type: Literal["self_built", "marketplace"] = "self_built"


@dataclass(slots=True)
class FaultRule:
    """Answer requests whose path matches ``path`` (a glob) with a fault, ``count`` times (None: always).

    ``rate_limit`` answers 429 + 99991400 by default; ``status=400`` gives the older APIs' form
    and ``code=230020`` the per-chat limit's.
    """

    path: str
    kind: FaultKind
    count: int | None = 1
    method: str | None = None
    status: int | None = None
    delay: float = 5.0
    reset: int = 1
    code: int | None = None

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


@dataclass(slots=True)
class _Ticket:
    value: str
    issued_at: float
    invalid: bool = False


@dataclass(slots=True)
class _Known:
    """A message the sandbox knows: one a user sent (seeded) or one the app sent."""

    chat_id: str
    record: dict[str, Any] | None = None  # the app's own messages keep their record
    sent_at: float = 0.0


@dataclass(slots=True)
class _World:
    chats: set[str] = field(default_factory=set)
    messages: dict[str, _Known] = field(default_factory=dict)


class SandboxState:
    """Apps, tokens, tickets, chats and messages, rate limits, scripted faults and the request record.

    ``chats`` are the chats the bot is in; a message seeded with ``seed_message`` joins the bot
    to its chat, as Lark only pushes messages from chats the bot is in. ``unseen_messages_chat``
    is for runners whose pushes never pass through the sandbox (``lark-service dev``): a reply to
    a message id the sandbox never saw is then taken as a reply in that chat instead of refused.
    """

    def __init__(
        self,
        apps: list[SandboxApp] | None = None,
        *,
        clock: SandboxClock | None = None,
        chats: tuple[str, ...] = (),
        unseen_messages_chat: str | None = None,
    ) -> None:
        self.clock = clock or SandboxClock()
        self.apps: dict[str, SandboxApp] = {a.app_id: a for a in (apps or [])}
        self.unseen_messages_chat = unseen_messages_chat
        self._lock = threading.RLock()
        self._tokens: dict[str, _Issued] = {}
        self._current: dict[tuple[str, str, str | None], str] = {}
        self._tickets: dict[str, list[_Ticket]] = {}
        self._faults: list[FaultRule] = []
        self._requests: list[dict[str, Any]] = []
        self._messages: list[dict[str, Any]] = []
        self._by_uuid: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._world = _World(set(chats) | ({unseen_messages_chat} if unseen_messages_chat else set()))
        self._limits = WindowLimiter()
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
            return copy.deepcopy(self._requests)

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
            self._tickets.setdefault(app_id, []).append(_Ticket(ticket, self.clock.now()))
        return ticket

    def current_ticket(self, app_id: str) -> str | None:
        with self._lock:
            issued = self._tickets.get(app_id) or []
            return issued[-1].value if issued else None

    def invalidate_tickets(self, app_id: str) -> None:
        with self._lock:
            for ticket in self._tickets.get(app_id, []):
                ticket.invalid = True

    def due_tickets(self) -> list[tuple[str, str]]:
        """Issue the hourly ticket of every store app whose last one is an hour old."""
        now = self.clock.now()
        due = []
        with self._lock:
            for app in self.apps.values():
                issued = self._tickets.get(app.app_id) or []
                if app.app_type == "marketplace" and (
                    not issued or now - issued[-1].issued_at >= TICKET_PUSH_EVERY
                ):
                    due.append((app.app_id, self.issue_ticket(app.app_id)))
        return due

    def add_chat(self, chat_id: str) -> None:
        """The bot joins ``chat_id``: sends to it stop answering 230002."""
        with self._lock:
            self._world.chats.add(chat_id)

    def seed_message(self, message_id: str, chat_id: str) -> None:
        """Make a user's message known, so replies to it land in its chat (and the bot is in it)."""
        with self._lock:
            self._world.chats.add(chat_id)
            self._world.messages.setdefault(message_id, _Known(chat_id, sent_at=self.clock.now()))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "now": self.clock.now(),
                "faults": [asdict(f) for f in self._faults],
                "tokens_issued": len(self._tokens),
                "chats": sorted(self._world.chats),
            }

    # --- the API -----------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Reply:
        """Answer one Open API request (headers lower-cased) and record it."""
        body: Any
        try:
            body = json.loads(raw) if raw else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = raw.decode("utf-8", "replace")
        fault = self._take_fault(method, path)
        if fault is not None and fault.kind != "timeout":
            reply = _fault_reply(fault)
        else:
            reply = self._route(
                method, path, query, headers, body if isinstance(body, dict) else None, len(raw)
            )
            if fault is not None:
                reply = Reply(reply.status, reply.body, reply.headers, fault.delay, reply.violations)
        now = self.clock.now()
        reply = finish(reply, log_id=new_log_id(now), envelope=path.startswith("/open-apis/im/"))
        with self._lock:
            self._requests.append(
                {
                    "seq": len(self._requests) + 1,
                    "at": now,
                    "method": method,
                    "path": path,
                    "query": query,
                    "headers": headers,
                    "body": body,
                    "status": reply.status,
                    "code": reply.body.get("code"),
                    "log_id": reply.headers[LOG_ID_HEADER],
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
        size: int,
    ) -> Reply:
        parts = path.split("/")
        on_message = path.startswith(IM + "/") and (
            len(parts) == 6 or (len(parts) == 7 and parts[6] == "reply")
        )
        auth_calls = {
            AUTH + "tenant_access_token/internal": lambda b: self._internal_token(b, "tenant_access_token"),
            AUTH + "app_access_token/internal": lambda b: self._internal_token(b, "app_access_token"),
            AUTH + "app_access_token": self._marketplace_app_token,
            AUTH + "tenant_access_token": self._marketplace_tenant_token,
            AUTH + "app_ticket/resend": self._resend_ticket,
        }
        if not (path in auth_calls or path == IM or on_message):
            return error(404, 404, "404 page not found")
        expected = "PATCH" if on_message and len(parts) == 6 else "POST"
        if method != expected:
            return error(405, 405, f"{method} is not allowed on {path}")
        # Every page's request headers: Content-Type "application/json; charset=utf-8" (固定值). The
        # official SDK itself sends none (lark_oapi/core/http/transport.py, Transport.execute posts
        # bytes through requests without one) and Lark serves it, so only a declared other type
        # is refused.
        content_type = headers.get("content-type", "")
        if content_type and content_type.split(";")[0].strip().lower() != "application/json":
            return field_error("Content-Type", content_type, "must be application/json; charset=utf-8")
        if body is None:
            return field_error("body", "", "the body is not a JSON object")
        if path in auth_calls:
            return auth_calls[path](body)
        if path == IM:
            return self._send(query, headers, body, size)
        if len(parts) == 7:
            return self._reply(parts[5], headers, body, size)
        return self._patch(parts[5], headers, body, size)

    # --- auth --------------------------------------------------------------------------------
    def _app(self, body: dict[str, Any]) -> SandboxApp | Reply:
        app = self.apps.get(str(body.get("app_id", "")))
        if app is None:
            return error(200, CODE_INVALID_PARAM, "invalid param")
        if not secrets.compare_digest(str(body.get("app_secret", "")), app.app_secret):
            return error(200, CODE_APP_SECRET_INVALID, "app secret invalid")
        return app

    def _internal_token(self, body: dict[str, Any], kind: str) -> Reply:
        app = self._app(body)
        if isinstance(app, Reply):
            return app
        if app.app_type != "self_built":  # the internal pages: "支持的应用类型 Custom App"
            return error(
                200, CODE_INVALID_PARAM, "invalid param: a store app gets tokens with its app_ticket"
            )
        token, expire = self._issue(kind, app.app_id, None)
        return ok({"code": 0, "msg": "ok", kind: token, "expire": expire})

    def _marketplace_app_token(self, body: dict[str, Any]) -> Reply:
        app = self._app(body)
        if isinstance(app, Reply):
            return app
        ticket = str(body.get("app_ticket", ""))
        now = self.clock.now()
        with self._lock:
            valid = any(
                t.value == ticket and not t.invalid and now - t.issued_at < TICKET_LIFETIME
                for t in self._tickets.get(app.app_id, [])
            )
        if not valid:
            return error(200, CODE_APP_TICKET_INVALID, "app_ticket is invalid")
        token, expire = self._issue("app_access_token", app.app_id, None)
        return ok({"code": 0, "msg": "success", "app_access_token": token, "expire": expire})

    def _marketplace_tenant_token(self, body: dict[str, Any]) -> Reply:
        app_token = self._live(str(body.get("app_access_token", "")), "app_access_token")
        tenant_key = str(body.get("tenant_key", ""))
        if app_token is None:
            return error(200, CODE_APP_TOKEN_INVALID, "app access token is invalid")
        if not tenant_key:
            return error(200, CODE_INVALID_PARAM, "invalid param: tenant_key")
        token, expire = self._issue("tenant_access_token", app_token.app_id, tenant_key)
        return ok({"code": 0, "msg": "success", "tenant_access_token": token, "expire": expire})

    def _resend_ticket(self, body: dict[str, Any]) -> Reply:
        """app_ticket/resend page: "支持的应用类型 Store App"; the push follows the answer."""
        app = self._app(body)
        if isinstance(app, Reply):
            return app
        if app.app_type != "marketplace":
            return error(200, CODE_INVALID_PARAM, "invalid param: app_ticket/resend is for store apps")
        self.issue_ticket(app.app_id)
        return ok({"code": 0, "msg": "success"})

    def _issue(self, kind: str, app_id: str, tenant_key: str | None) -> tuple[str, int]:
        now = self.clock.now()
        with self._lock:
            current = self._tokens.get(self._current.get((kind, app_id, tenant_key), ""))
            if current and not current.revoked and current.expires_at - now >= REISSUE_BELOW:
                return current.token, int(current.expires_at - now)
            token = TOKEN_PREFIX[kind] + secrets.token_hex(16)
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
    def _caller(self, headers: dict[str, str], api: str) -> _Issued | Reply:
        """The token check, then the app's limit for ``api``: 429 with the ``x-ogw`` headers."""
        auth = headers.get("authorization", "")
        if not auth:
            return error(400, CODE_MISSING_TOKEN, "Missing access token for authorization")
        scheme, _, token = auth.partition(" ")
        if scheme != "Bearer" or not token.startswith(("t-", "u-")):
            return error(400, CODE_TOKEN_FORMAT, "Invalid access token format: expected 'Bearer t-...'")
        issued = self._live(token, "tenant_access_token")
        if issued is None:
            return error(400, CODE_TENANT_TOKEN_INVALID, "Invalid access token for authorization")
        tripped = self._limits.admit(
            f"{api}|{issued.app_id}|{issued.tenant_key}", APP_LIMITS, self.clock.now()
        )
        if tripped is not None:
            return rate_limited(429, tripped.limit, tripped.reset_seconds)
        return issued

    def _recipient_limit(self, key: str) -> Reply | None:
        tripped = self._limits.admit(key, RECIPIENT_LIMITS, self.clock.now())
        if tripped is None:
            return None
        return error(
            400, CODE_CHAT_RATE_LIMITED, "This operation triggers the frequency limit, ext=chat rate limit"
        )

    def _send(self, query: dict[str, str], headers: dict[str, str], body: dict[str, Any], size: int) -> Reply:
        caller = self._caller(headers, "create")
        if isinstance(caller, Reply):
            return caller
        id_type = query.get("receive_id_type", "")
        receive_id = body.get("receive_id")
        refused = rules.check_receive_id(id_type, receive_id) or self._check_body(body, size)
        if refused:
            return refused
        receive_id = str(receive_id)
        if id_type == "chat_id":
            with self._lock:
                member = receive_id in self._world.chats
            if not member:
                return error(400, CODE_BOT_NOT_IN_CHAT, "The bot can not be outside the group.")
            chat_id, limit_key = receive_id, f"chat|{receive_id}"
        else:
            chat_id, limit_key = "oc_p2p_" + receive_id, f"user|{caller.app_id}|{id_type}|{receive_id}"
        return self._deliver(caller, body, chat_id=chat_id, parent_id=None, limit_key=limit_key)

    def _reply(self, message_id: str, headers: dict[str, str], body: dict[str, Any], size: int) -> Reply:
        caller = self._caller(headers, "reply")
        if isinstance(caller, Reply):
            return caller
        refused = self._check_body(body, size)
        if refused:
            return refused
        with self._lock:
            known = self._world.messages.get(message_id)
        if known is not None:
            chat_id = known.chat_id
        elif self.unseen_messages_chat and message_id.startswith("om_"):
            chat_id = self.unseen_messages_chat
        else:
            # reply page error table: 230001 for a parameter Lark cannot use; ids are "om_..."
            return error(
                400,
                CODE_MESSAGE_PARAM,
                f"Your request contains an invalid request parameter, ext=invalid message_id {message_id!r}",
            )
        return self._deliver(caller, body, chat_id=chat_id, parent_id=message_id, limit_key=f"chat|{chat_id}")

    def _check_body(self, body: dict[str, Any], size: int) -> Reply | None:
        return rules.check_uuid(body.get("uuid")) or rules.check_content(
            body.get("msg_type"), body.get("content"), size
        )

    def _deliver(
        self, caller: _Issued, body: dict[str, Any], *, chat_id: str, parent_id: str | None, limit_key: str
    ) -> Reply:
        uuid = body.get("uuid")
        now = self.clock.now()
        with self._lock:
            if isinstance(uuid, str) and uuid:
                seen = self._by_uuid.get((caller.app_id, uuid))
                if seen and now - seen[0] < UUID_WINDOW:
                    return ok({"code": 0, "msg": "success", "data": seen[1]})
        limited = self._recipient_limit(limit_key)
        if limited:
            return limited
        # Field names and types of lark_oapi/api/im/v1/model/create_message_response_body.py;
        # times are epoch milliseconds as strings, as the create page's response sample has them.
        message = {
            "message_id": "om_" + secrets.token_hex(16),
            "root_id": parent_id,
            "parent_id": parent_id,
            "msg_type": body["msg_type"],
            "create_time": str(int(now * 1000)),
            "update_time": str(int(now * 1000)),
            "deleted": False,
            "updated": False,
            "chat_id": chat_id,
            "sender": {
                "id": caller.app_id,
                "id_type": "app_id",
                "sender_type": "app",
                "tenant_key": caller.tenant_key or "",
            },
            "body": {"content": body["content"]},
        }
        if parent_id is None:
            del message["root_id"], message["parent_id"]
        with self._lock:
            if isinstance(uuid, str) and uuid:
                self._by_uuid[(caller.app_id, uuid)] = (now, message)
            record: dict[str, Any] = {
                **copy.deepcopy(message),
                "tenant_key": caller.tenant_key,
                "uuid": uuid,
                "update_count": 0,
                "history": [],
            }
            self._messages.append(record)
            self._world.messages[record["message_id"]] = _Known(chat_id, record, now)
        return ok({"code": 0, "msg": "success", "data": message})

    def _patch(self, message_id: str, headers: dict[str, str], body: dict[str, Any], size: int) -> Reply:
        """Replace a sent card's content; the record keeps every earlier content in ``history``.

        Request and response as ``lark_oapi/api/im/v1/model/patch_message_request_body.py``
        (``content: str``) and ``patch_message_response.py`` (no ``data`` fields) define them.
        """
        caller = self._caller(headers, "patch")
        if isinstance(caller, Reply):
            return caller
        refused = rules.check_content("interactive", body.get("content"), size)
        if refused:
            return refused
        content = str(body["content"])
        now = self.clock.now()
        with self._lock:
            known = self._world.messages.get(message_id)
            record = known.record if known else None
            if known is None:
                return error(
                    400,
                    CODE_MESSAGE_PARAM,
                    f"Your request contains an invalid request parameter, ext=invalid message_id {message_id!r}",
                )
            if record is None or record["sender"]["id"] != caller.app_id:
                return error(400, CODE_NOT_SENDER, "Bot is NOT the sender of the message.")
            if record["msg_type"] != "interactive":
                return error(400, CODE_MESSAGE_PARAM, "only interactive (card) messages can be updated")
            if now - known.sent_at > PATCH_WINDOW:
                return error(
                    400, CODE_PATCH_TOO_OLD, "Message can only be modified within 14 days after sending."
                )
            if not (_shared_card(record["body"]["content"]) and _shared_card(content)):
                return error(
                    400,
                    CODE_MESSAGE_PARAM,
                    'a card is updated only when its config has "update_multi": true before and after',
                )
        limited = self._recipient_limit(f"message|{message_id}")
        if limited:
            return limited
        with self._lock:
            record["history"].append(record["body"]["content"])
            record["body"] = {"content": content}
            record["updated"] = True
            record["update_time"] = str(int(now * 1000))
            record["update_count"] += 1
        return ok({"code": 0, "msg": "success", "data": {}})


def _shared_card(content: str) -> bool:
    card = json.loads(content)
    config = card.get("config") if isinstance(card, dict) else None
    return isinstance(config, dict) and config.get("update_multi") is True


def _fault_reply(fault: FaultRule) -> Reply:
    if fault.kind == "rate_limit":
        if fault.code == CODE_CHAT_RATE_LIMITED:
            return error(
                fault.status or 400, CODE_CHAT_RATE_LIMITED, "This operation triggers the frequency limit"
            )
        return rate_limited(fault.status or 429, 50, fault.reset)
    if fault.kind == "invalid_token":
        return error(
            fault.status or 400,
            fault.code or CODE_TENANT_TOKEN_INVALID,
            "Invalid access token for authorization",
        )
    return error(fault.status or 500, CODE_SERVER_ERROR, "internal server error")
