"""The Lark API client handlers use: tokens handled, rate limits honoured, every call measured.

A refused token (99991663 / 99991664 / 99991671) is refreshed and the call retried once; a
second refusal is a real error. A rate limit, in any of its forms, is waited out in-process
while the waits add up to no more than ``rate_limit_max_wait``; past that ``LarkRateLimited``
is raised so the queue delays the event rather than the worker sleeping through its budget.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from lark_service.lark.errors import LarkInvalidToken, LarkRateLimited
from lark_service.lark.transport import Transport

REPLY = "/open-apis/im/v1/messages/:message_id/reply"
CREATE = "/open-apis/im/v1/messages"
PATCH = "/open-apis/im/v1/messages/:message_id"
UUID_MAX = 50  # create/reply pages: "uuid ... 最大长度: 50 字符"; Lark answers 99992402 past it


MIN_RATE_LIMIT_WAIT_SECONDS = 0.1
"""The least a rate-limited call waits before its retry, whatever ``x-ogw-ratelimit-reset`` says."""


class TokenSource(Protocol):
    def tenant_token(self, tenant_key: str | None = None) -> str: ...

    def invalidate(self, token: str) -> None: ...


class LarkClient:
    def __init__(
        self,
        transport: Transport,
        tokens: TokenSource,
        *,
        rate_limit_max_wait: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._transport = transport
        self._tokens = tokens
        self._rate_limit_max_wait = rate_limit_max_wait
        self._sleep = sleep

    def request(
        self,
        method: str,
        route: str,
        *,
        path_params: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        tenant_key: str | None = None,
    ) -> dict[str, Any]:
        """Call an Open API route (``:name`` placeholders filled from ``path_params``); return ``data``."""
        path = route
        for name, value in (path_params or {}).items():
            if not value or "/" in value:
                raise ValueError(f"path parameter {name!r} must be a non-empty id without '/'")
            path = path.replace(f":{name}", value)
        token_retried = False
        waited = 0.0
        while True:
            token = self._tokens.tenant_token(tenant_key)
            try:
                answer = self._transport.call(
                    method, route, path=path, params=params, json=json_body, token=token
                )
            except LarkInvalidToken:
                if token_retried:
                    raise
                token_retried = True
                self._tokens.invalidate(token)
                continue
            except LarkRateLimited as exc:
                # A reset of 0 (or a tiny one) still costs a little, so waits always add up to the
                # cap and a limit that never lifts cannot loop here for ever.
                wait = max(exc.reset_seconds, MIN_RATE_LIMIT_WAIT_SECONDS)
                if waited + wait > self._rate_limit_max_wait:
                    raise
                waited += wait
                self._sleep(wait)
                continue
            data = answer.get("data")
            return data if isinstance(data, dict) else {}

    def reply_message(
        self,
        message_id: str,
        *,
        msg_type: str,
        content: dict[str, Any],
        uuid: str | None = None,
        tenant_key: str | None = None,
    ) -> dict[str, Any]:
        """Reply to a message in its chat. ``uuid`` makes Lark drop a repeat within an hour.

        Any string works as ``uuid``: one longer than Lark's 50 characters is replaced by a
        fixed-length digest of it (see ``dedupe_key``), never cut.
        """
        return self.request(
            "POST",
            REPLY,
            path_params={"message_id": message_id},
            json_body=_message(msg_type, content, uuid),
            tenant_key=tenant_key,
        )

    def send_message(
        self,
        receive_id_type: str,
        receive_id: str,
        *,
        msg_type: str,
        content: dict[str, Any],
        uuid: str | None = None,
        tenant_key: str | None = None,
    ) -> dict[str, Any]:
        return self.request(
            "POST",
            CREATE,
            params={"receive_id_type": receive_id_type},
            json_body={"receive_id": receive_id, **_message(msg_type, content, uuid)},
            tenant_key=tenant_key,
        )

    def patch_message(
        self, message_id: str, *, card: dict[str, Any], tenant_key: str | None = None
    ) -> dict[str, Any]:
        """Replace the content of a card this app sent (within 14 days; ``update_multi`` true).

        The same call as ``lark_oapi``'s ``im.v1.message.patch``: ``{"content": <card JSON>}``.
        """
        return self.request(
            "PATCH",
            PATCH,
            path_params={"message_id": message_id},
            json_body={"content": json.dumps(card, ensure_ascii=False)},
            tenant_key=tenant_key,
        )


def _message(msg_type: str, content: dict[str, Any], uuid: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"msg_type": msg_type, "content": json.dumps(content, ensure_ascii=False)}
    if uuid:
        body["uuid"] = dedupe_key(uuid)
    return body


def dedupe_key(uuid: str) -> str:
    """``uuid`` itself when Lark accepts it, else the first 50 hex digits of its SHA-256.

    Cutting would merge keys that share their first 50 characters, and Lark would drop the
    second message as a repeat; a digest keeps distinct keys distinct.
    """
    if len(uuid) <= UUID_MAX:
        return uuid
    return hashlib.sha256(uuid.encode()).hexdigest()[:UUID_MAX]
