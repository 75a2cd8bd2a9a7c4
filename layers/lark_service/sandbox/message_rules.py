"""What Lark refuses in a message before it sends it, each rule with where it is written.

Pages cited (open.feishu.cn/document/server-docs/im-v1/...): ``message/create`` (发送消息),
``message/reply`` (回复消息), ``message-card/patch`` (更新应用发送的消息卡片) and
``message-content-description/create_json`` (发送消息内容结构).
"""

from __future__ import annotations

import json
from typing import Any

from lark_service.sandbox.replies import (
    CODE_CARD_INVALID,
    CODE_CONTENT_TOO_LONG,
    CODE_ID_INVALID,
    CODE_MESSAGE_PARAM,
    Reply,
    error,
    field_error,
)

# create/reply/patch: "文本消息请求体最大不能超过 150 KB; 卡片及富文本消息请求体最大不能超过 30 KB",
# measured on the request body, answered with 230025.
TEXT_BODY_MAX = 150 * 1024
RICH_BODY_MAX = 30 * 1024
RICH_TYPES = frozenset({"post", "interactive"})

# create: "uuid ... 最大长度: 50 字符"; longer is a field validation failure (99992402).
UUID_MAX = 50

# create: msg_type values, and the content each one needs (发送消息内容结构).
MSG_TYPES = frozenset(
    {"text", "post", "image", "file", "audio", "media", "sticker", "interactive", "share_chat", "share_user"}
)
REQUIRED_KEYS = {
    "image": ("image_key",),
    "file": ("file_key",),
    "audio": ("file_key",),
    "media": ("file_key",),
    "sticker": ("file_key",),
    "share_chat": ("chat_id",),
    "share_user": ("user_id",),
}

# create: receive_id_type ∈ open_id | union_id | user_id | email | chat_id; the ids' prefixes
# are those of the "用户相关的 ID 概念" and "群 ID 说明" pages (ou_, on_, oc_).
RECEIVE_ID_TYPES = frozenset({"open_id", "user_id", "union_id", "email", "chat_id"})
ID_PREFIXES = {"open_id": "ou_", "union_id": "on_", "chat_id": "oc_"}


def check_uuid(uuid: Any) -> Reply | None:
    if uuid is None:
        return None
    if not isinstance(uuid, str):
        return field_error("uuid", repr(uuid), "uuid must be a string")
    if len(uuid) > UUID_MAX:
        return field_error("uuid", uuid, f"the max len is {UUID_MAX}")
    return None


def check_receive_id(id_type: str, receive_id: Any) -> Reply | None:
    """Recipients of the wrong kind for ``receive_id_type``, as Lark answers them.

    ``chat_id`` with a user's id: 230001 "...ext=invalid receive_id" (reported in
    NousResearch/hermes-agent issue 7685); ``open_id`` with a chat's id: 99992351 with
    field_violations (larksuite/openclaw-lark issue 149). ``union_id`` follows ``open_id``.
    """
    if id_type not in RECEIVE_ID_TYPES:
        return field_error(
            "receive_id_type", id_type, f"receive_id_type must be one of {sorted(RECEIVE_ID_TYPES)}"
        )
    if not isinstance(receive_id, str) or not receive_id:
        return field_error("receive_id", repr(receive_id), "receive_id is required")
    prefix = ID_PREFIXES.get(id_type)
    if id_type == "chat_id" and not receive_id.startswith("oc_"):
        return error(
            400,
            CODE_MESSAGE_PARAM,
            "Your request contains an invalid request parameter, ext=invalid receive_id",
        )
    if prefix and not receive_id.startswith(prefix):
        violation = {"field": "receive_id", "value": receive_id, "description": f"not a valid {{{id_type}}}"}
        msg = (
            f"The request you send is not a valid {{{id_type}}} or not exists. Invalid ids: [{receive_id}]. "
            "Please see field_violations for details"
        )
        return error(400, CODE_ID_INVALID, msg, violation)
    if id_type == "email" and "@" not in receive_id:
        return error(
            400,
            CODE_MESSAGE_PARAM,
            "Your request contains an invalid request parameter, ext=invalid receive_id",
        )
    return None


def check_content(msg_type: Any, content: Any, body_size: int) -> Reply | None:
    """``msg_type`` and ``content`` of a create/reply/patch body; ``body_size`` is the request's."""
    if msg_type not in MSG_TYPES:
        return error(400, CODE_MESSAGE_PARAM, f"invalid msg_type {msg_type!r}")
    limit = RICH_BODY_MAX if msg_type in RICH_TYPES else TEXT_BODY_MAX
    if body_size > limit:
        return error(
            400,
            CODE_CONTENT_TOO_LONG,
            f"The length of the message content reaches its limit: {body_size} bytes > {limit} for {msg_type}",
        )
    if not isinstance(content, str):
        return error(400, CODE_MESSAGE_PARAM, "content must be a JSON-encoded string")
    try:
        parsed = json.loads(content)
    except json.JSONDecodeError:
        return error(400, CODE_MESSAGE_PARAM, "invalid message content: content is not valid JSON")
    if not isinstance(parsed, dict):
        return error(400, CODE_MESSAGE_PARAM, "invalid message content: content must be a JSON object")
    if msg_type == "text":
        if not isinstance(parsed.get("text"), str):
            return error(
                400, CODE_MESSAGE_PARAM, 'invalid message content: text content must be {"text": "..."}'
            )
        return None
    if msg_type == "post":
        return _check_post(parsed)
    if msg_type == "interactive":
        return check_card(parsed)
    missing = [key for key in REQUIRED_KEYS.get(str(msg_type), ()) if not isinstance(parsed.get(key), str)]
    if missing:
        return error(
            400, CODE_MESSAGE_PARAM, f"invalid message content: {msg_type} needs {', '.join(missing)}"
        )
    return None


def _check_post(post: dict[str, Any]) -> Reply | None:
    """A post is ``{locale: {"title"?, "content": [[{"tag": ...}, ...], ...]}}`` (发送消息内容结构)."""
    locales = post.get("post", post)  # the receive-event form nests it under "post"
    if not isinstance(locales, dict) or not locales:
        return error(400, CODE_MESSAGE_PARAM, "invalid message content: a post needs at least one locale")
    for locale, value in locales.items():
        paragraphs = value.get("content") if isinstance(value, dict) else None
        if not isinstance(paragraphs, list) or not all(
            isinstance(line, list)
            and all(isinstance(node, dict) and isinstance(node.get("tag"), str) for node in line)
            for line in paragraphs
        ):
            return error(
                400,
                CODE_MESSAGE_PARAM,
                f'invalid message content: post locale {locale!r} needs content [[{{"tag": ...}}]]',
            )
    return None


def check_card(card: dict[str, Any]) -> Reply | None:
    """A card is a template reference or a card with elements; else 230099 (create/patch tables).

    Forms: ``{"type": "template", "data": {"template_id": ...}}``; card JSON 1.0 with
    ``elements`` or ``i18n_elements``; card JSON 2.0 with ``"schema": "2.0"`` and ``body``.
    """
    if card.get("type") == "template":
        data = card.get("data")
        if isinstance(data, dict) and isinstance(data.get("template_id"), str) and data["template_id"]:
            return None
        return error(
            400, CODE_CARD_INVALID, "Failed to create card content, ext=template card needs data.template_id"
        )
    if card.get("schema") == "2.0":
        body = card.get("body")
        elements = body.get("elements") if isinstance(body, dict) else None
        if isinstance(elements, list) and _tagged(elements):
            return None
        return error(
            400, CODE_CARD_INVALID, "Failed to create card content, ext=card 2.0 needs body.elements"
        )
    elements = card.get("elements")
    i18n = card.get("i18n_elements")
    if isinstance(elements, list) and _tagged(elements):
        return None
    if isinstance(i18n, dict) and i18n and all(isinstance(v, list) and _tagged(v) for v in i18n.values()):
        return None
    return error(400, CODE_CARD_INVALID, "Failed to create card content, ext=card needs elements")


def _tagged(elements: list[Any]) -> bool:
    return all(isinstance(e, dict) and isinstance(e.get("tag"), str) for e in elements)
