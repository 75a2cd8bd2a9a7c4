"""Run by the official SDK's own interpreter (lark-oapi 1.7.5 in .tools/lark-oapi), never imported.

The SDK is the client here: it calls the sandbox at the URLs given on stdin, through its own
builders, transport and token manager, and parses the answers with its own models. What it
observed is printed as one JSON document for tests/integration/lark/test_sdk_conformance.py.
"""

from __future__ import annotations

import json
import sys
import typing
from typing import Any

import lark_oapi as lark
from lark_oapi.api.auth.v3 import (
    CreateAppAccessTokenRequest,
    CreateAppAccessTokenRequestBody,
    CreateAppAccessTokenResponseBody,
    CreateTenantAccessTokenRequest,
    CreateTenantAccessTokenRequestBody,
    CreateTenantAccessTokenResponseBody,
    InternalAppAccessTokenRequest,
    InternalAppAccessTokenRequestBody,
    InternalAppAccessTokenResponseBody,
    InternalTenantAccessTokenRequest,
    InternalTenantAccessTokenRequestBody,
    InternalTenantAccessTokenResponseBody,
    ResendAppTicketRequest,
    ResendAppTicketRequestBody,
)
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    CreateMessageResponseBody,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
    ReplyMessageResponseBody,
)
from lark_oapi.core.const import VERSION, X_TT_LOGID
from lark_oapi.core.model.error import Error
from lark_oapi.core.token.access_token_response import AccessTokenResponse


def mismatches(raw: dict[str, Any], types: dict[str, Any], where: str) -> list[str]:
    """Fields the SDK's model does not declare, or whose JSON type does not fit the declared one."""
    found = []
    for key, value in raw.items():
        if key not in types:
            found.append(f"{where}.{key}: not a field of the SDK's model")
        elif value is not None and not fits(types[key], value):
            found.append(f"{where}.{key}: {type(value).__name__} does not fit {types[key]!r}")
        elif isinstance(value, dict) and hasattr(types[key], "_types"):
            found += mismatches(value, types[key]._types, f"{where}.{key}")
    return found


def fits(declared: Any, value: Any) -> bool:
    if declared is bool:
        return isinstance(value, bool)
    if declared is int:  # Lark sends int64 fields as strings (the create page's sample)
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.isdigit()
        )
    if declared is str:
        return isinstance(value, str)
    if typing.get_origin(declared) in (list, typing.List):  # noqa: UP006 - the SDK's own spelling
        return isinstance(value, list)
    return isinstance(value, dict)


def type_name(declared: Any) -> str:
    return declared.__name__ if isinstance(declared, type) else str(declared)


def raw_json(response: Any) -> dict[str, Any]:
    return json.loads(response.raw.content)


def observe(response: Any, data_types: dict[str, Any] | None, where: str) -> dict[str, Any]:
    body = raw_json(response)
    seen: dict[str, Any] = {
        "status": response.raw.status_code,
        "code": response.code,
        "msg": response.msg,
        "log_id": response.get_log_id(),
        "problems": mismatches(
            {k: v for k, v in body.items() if k != "data"}, {"code": int, "msg": str, "error": dict}, where
        ),
    }
    if data_types is not None and isinstance(body.get("data"), dict):
        seen["problems"] += mismatches(body["data"], data_types, where + ".data")
        seen["data"] = body["data"]
    if isinstance(body.get("error"), dict):  # BaseResponse keeps it raw; the SDK's Error model reads it
        seen["problems"] += mismatches(body["error"], Error._types, where + ".error")
        error = Error(body["error"])
        seen["error_log_id"] = error.log_id
        seen["field_violations"] = [v.field for v in error.field_violations or []]
    return seen


def token(response: Any, body_types: dict[str, Any], where: str) -> dict[str, Any]:
    """auth v3 answers at the top level; the SDK's token manager parses it as AccessTokenResponse."""
    body = raw_json(response)
    parsed = lark.JSON.unmarshal(json.dumps(body), AccessTokenResponse)
    fields = {k: v for k, v in body.items() if k not in ("code", "msg")}
    return {
        "status": response.raw.status_code,
        "code": parsed.code,
        "token": parsed.tenant_access_token or parsed.app_access_token,
        "expire": parsed.expire,
        "log_id": response.get_log_id(),
        "problems": mismatches(fields, body_types, where),
    }


def main() -> None:
    plan = json.load(sys.stdin)
    out: dict[str, Any] = {"version": VERSION, "log_id_header": X_TT_LOGID}
    app = plan["self_built"]
    client = (
        lark.Client.builder()
        .app_id(app["app_id"])
        .app_secret(app["app_secret"])
        .domain(app["url"])
        .log_level(lark.LogLevel.ERROR)
        .build()
    )
    creds = {"app_id": app["app_id"], "app_secret": app["app_secret"]}
    out["tenant_internal"] = token(
        client.auth.v3.tenant_access_token.internal(
            InternalTenantAccessTokenRequest.builder()
            .request_body(InternalTenantAccessTokenRequestBody(creds))
            .build()
        ),
        InternalTenantAccessTokenResponseBody._types,
        "tenant_access_token/internal",
    )
    out["app_internal"] = token(
        client.auth.v3.app_access_token.internal(
            InternalAppAccessTokenRequest.builder()
            .request_body(InternalAppAccessTokenRequestBody(creds))
            .build()
        ),
        InternalAppAccessTokenResponseBody._types,
        "app_access_token/internal",
    )
    card = json.dumps(
        {"config": {"update_multi": True}, "elements": [{"tag": "markdown", "content": "firing"}]}
    )
    create = (
        CreateMessageRequest.builder()
        .receive_id_type("chat_id")
        .request_body(
            CreateMessageRequestBody.builder()
            .receive_id(app["chat_id"])
            .msg_type("interactive")
            .content(card)
            .uuid("sdk-1")
            .build()
        )
        .build()
    )
    created = client.im.v1.message.create(create)
    out["create"] = observe(created, CreateMessageResponseBody._types, "create")
    reply = (
        ReplyMessageRequest.builder()
        .message_id(app["user_message_id"])
        .request_body(
            ReplyMessageRequestBody.builder()
            .msg_type("text")
            .content(json.dumps({"text": "re"}))
            .reply_in_thread(False)
            .uuid("sdk-2")
            .build()
        )
        .build()
    )
    out["reply"] = observe(client.im.v1.message.reply(reply), ReplyMessageResponseBody._types, "reply")
    resolved = json.dumps(
        {"config": {"update_multi": True}, "elements": [{"tag": "markdown", "content": "resolved"}]}
    )
    patch = (
        PatchMessageRequest.builder()
        .message_id(created.data.message_id if created.success() else "om_none")
        .request_body(PatchMessageRequestBody.builder().content(resolved).build())
        .build()
    )
    out["patch"] = observe(client.im.v1.message.patch(patch), {}, "patch")
    outside = (
        CreateMessageRequest.builder()
        .receive_id_type("chat_id")
        .request_body(
            CreateMessageRequestBody.builder()
            .receive_id("oc_not_a_member")
            .msg_type("text")
            .content(json.dumps({"text": "x"}))
            .build()
        )
        .build()
    )
    out["not_in_chat"] = observe(client.im.v1.message.create(outside), None, "not_in_chat")
    long_uuid = (
        CreateMessageRequest.builder()
        .receive_id_type("chat_id")
        .request_body(
            CreateMessageRequestBody.builder()
            .receive_id(app["chat_id"])
            .msg_type("text")
            .content(json.dumps({"text": "x"}))
            .uuid("u" * 51)
            .build()
        )
        .build()
    )
    out["long_uuid"] = observe(client.im.v1.message.create(long_uuid), None, "long_uuid")

    store = plan["store"]
    store_client = (
        lark.Client.builder()
        .app_id(store["app_id"])
        .app_secret(store["app_secret"])
        .domain(store["url"])
        .log_level(lark.LogLevel.ERROR)
        .build()
    )
    store_creds = {"app_id": store["app_id"], "app_secret": store["app_secret"]}
    app_token = store_client.auth.v3.app_access_token.create(
        CreateAppAccessTokenRequest.builder()
        .request_body(CreateAppAccessTokenRequestBody({**store_creds, "app_ticket": store["app_ticket"]}))
        .build()
    )
    out["app_store"] = token(app_token, CreateAppAccessTokenResponseBody._types, "app_access_token")
    tenant_token = store_client.auth.v3.tenant_access_token.create(
        CreateTenantAccessTokenRequest.builder()
        .request_body(
            CreateTenantAccessTokenRequestBody(
                {"app_access_token": out["app_store"]["token"], "tenant_key": "tenant-1"}
            )
        )
        .build()
    )
    out["tenant_store"] = token(
        tenant_token, CreateTenantAccessTokenResponseBody._types, "tenant_access_token"
    )
    resend = store_client.auth.v3.app_ticket.resend(
        ResendAppTicketRequest.builder().request_body(ResendAppTicketRequestBody(store_creds)).build()
    )
    out["resend"] = observe(resend, None, "app_ticket/resend")
    out["request_models"] = {
        name: {field: type_name(declared) for field, declared in model._types.items()}
        for name, model in (
            ("tenant_access_token/internal", InternalTenantAccessTokenRequestBody),
            ("app_access_token/internal", InternalAppAccessTokenRequestBody),
            ("app_access_token", CreateAppAccessTokenRequestBody),
            ("tenant_access_token", CreateTenantAccessTokenRequestBody),
            ("app_ticket/resend", ResendAppTicketRequestBody),
            ("im.message.create", CreateMessageRequestBody),
            ("im.message.reply", ReplyMessageRequestBody),
            ("im.message.patch", PatchMessageRequestBody),
        )
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
