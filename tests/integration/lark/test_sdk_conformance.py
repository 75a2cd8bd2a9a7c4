"""The official SDK against the sandbox: what lark-oapi sends is accepted, what the sandbox answers
fits lark-oapi's own models (field names and JSON types), errors parse into its ``Error``.

The SDK (lark-oapi 1.7.5, ``make tools`` puts it in ``.tools/lark-oapi``) runs in its own
interpreter, as a subprocess (``sdk_probe.py``): it is never installed beside the app.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lark_service.lark.auth import AuthApi
from lark_service.lark.client import LarkClient
from lark_service.lark.transport import Transport
from lark_service.sandbox import SandboxApp, SandboxServer, SandboxState
from lark_service.sandbox.replies import LOG_ID_HEADER

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SDK_PYTHON = ROOT / ".tools" / "lark-oapi" / "bin" / "python"
PROBE = Path(__file__).with_name("sdk_probe.py")


@pytest.fixture(scope="module")
def observed() -> dict[str, Any]:
    if not SDK_PYTHON.exists():
        pytest.fail(f"{SDK_PYTHON} is missing: run `make tools` (it installs lark-oapi==1.7.5 there)")
    self_built = SandboxState([SandboxApp("cli_sdk", "sdk-secret")], chats=("oc_sdk",))
    self_built.seed_message("om_sdk_user_said", "oc_sdk")
    store = SandboxState([SandboxApp("cli_store", "store-secret", "marketplace")])
    with SandboxServer(self_built) as one, SandboxServer(store) as other:
        plan = {
            "self_built": {
                "url": one.url,
                "app_id": "cli_sdk",
                "app_secret": "sdk-secret",
                "chat_id": "oc_sdk",
                "user_message_id": "om_sdk_user_said",
            },
            "store": {
                "url": other.url,
                "app_id": "cli_store",
                "app_secret": "store-secret",
                "app_ticket": store.current_ticket("cli_store"),
            },
        }
        done = subprocess.run(
            [str(SDK_PYTHON), str(PROBE)],
            input=json.dumps(plan),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    result["self_built_messages"] = self_built.messages()
    return result


def test_it_is_the_sdk_version_the_project_names(observed: dict[str, Any]) -> None:
    assert observed["version"] == "1.7.5"
    assert observed["log_id_header"] == LOG_ID_HEADER  # the SDK matches it case-sensitively


@pytest.mark.parametrize(
    ("call", "prefix"),
    [("tenant_internal", "t-"), ("app_internal", "a-"), ("app_store", "a-"), ("tenant_store", "t-")],
)
def test_auth_v3_answers_fit_the_sdk_s_token_models(observed: dict[str, Any], call: str, prefix: str) -> None:
    answer = observed[call]
    assert (answer["status"], answer["code"], answer["problems"]) == (200, 0, [])
    assert answer["token"].startswith(prefix)
    assert answer["expire"] == 7200
    assert answer["log_id"]


@pytest.mark.parametrize("call", ["create", "reply"])
def test_message_answers_fit_the_sdk_s_message_models(observed: dict[str, Any], call: str) -> None:
    answer = observed[call]
    assert (answer["status"], answer["code"], answer["problems"]) == (200, 0, [])
    assert answer["data"]["message_id"].startswith("om_")
    assert answer["log_id"]


def test_the_sdk_s_card_update_lands(observed: dict[str, Any]) -> None:
    assert (observed["patch"]["code"], observed["patch"]["problems"]) == (0, [])
    card, reply = observed["self_built_messages"]
    assert card["update_count"] == 1
    assert json.loads(card["body"]["content"])["elements"][0]["content"] == "resolved"
    assert (reply["parent_id"], reply["chat_id"]) == ("om_sdk_user_said", "oc_sdk")


def test_errors_parse_into_the_sdk_s_error_model(observed: dict[str, Any]) -> None:
    outside = observed["not_in_chat"]
    assert (outside["status"], outside["code"], outside["problems"]) == (400, 230002, [])
    assert outside["error_log_id"] == outside["log_id"]
    long_uuid = observed["long_uuid"]
    assert (long_uuid["code"], long_uuid["field_violations"]) == (99992402, ["uuid"])


class _OneToken:
    def __init__(self, token: str) -> None:
        self.token = token

    def tenant_token(self, tenant_key: str | None = None) -> str:
        return self.token

    def invalidate(self, token: str) -> None:
        raise AssertionError("the token was refused")


def test_this_project_s_client_sends_the_sdk_s_request_fields(observed: dict[str, Any]) -> None:
    """Every body our client sends names only fields of the SDK's request model, with its types."""
    models: dict[str, dict[str, str]] = observed["request_models"]
    state = SandboxState([SandboxApp("cli_ours", "ours-secret")], chats=("oc_ours",))
    state.seed_message("om_user_said", "oc_ours")
    with SandboxServer(state) as server:
        transport = Transport(server.url)
        auth = AuthApi(transport, "cli_ours", "ours-secret")
        client = LarkClient(transport, _OneToken(auth.tenant_token_internal().token))
        auth.app_token_internal()
        card = {"config": {"update_multi": True}, "elements": [{"tag": "markdown", "content": "x"}]}
        sent = client.send_message("chat_id", "oc_ours", msg_type="interactive", content=card, uuid="k" * 60)
        client.reply_message("om_user_said", msg_type="text", content={"text": "re"}, uuid="r-1")
        client.patch_message(sent["message_id"], card=card)
        transport.close()
    names = {
        "/open-apis/auth/v3/tenant_access_token/internal": "tenant_access_token/internal",
        "/open-apis/auth/v3/app_access_token/internal": "app_access_token/internal",
        "/open-apis/im/v1/messages": "im.message.create",
        "/open-apis/im/v1/messages/om_user_said/reply": "im.message.reply",
        f"/open-apis/im/v1/messages/{sent['message_id']}": "im.message.patch",
    }
    recorded = state.requests()
    assert [names[r["path"]] for r in recorded] == list(names.values())
    python_types = {"str": str, "bool": bool, "int": int}
    for request in recorded:
        model = models[names[request["path"]]]
        assert request["code"] == 0, request
        for field, value in request["body"].items():
            assert field in model, f"{names[request['path']]}: {field} is not in the SDK's request model"
            assert isinstance(value, python_types[model[field]]), (field, value, model[field])


def test_the_sdk_s_resend_call_is_answered_as_the_page_shows(observed: dict[str, Any]) -> None:
    assert (observed["resend"]["code"], observed["resend"]["msg"]) == (0, "success")
