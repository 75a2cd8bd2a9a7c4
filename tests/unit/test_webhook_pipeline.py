"""The pipeline's rules, row by row, with in-memory stores (no I/O)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from lark_service.config import load_settings
from lark_service.envelope import Envelope
from lark_service.local.samples import Credentials, function_url_event, signed_request
from lark_service.webhook import crypto
from lark_service.webhook.function_url import to_request
from lark_service.webhook.pipeline import Webhook
from lark_service.webhook.protocol import Rejected, Reply, Request
from tests.unit.fakes import ListQueue, MemoryDedupe, Recorder

KEY = "unit-encrypt-key"
TOKEN = "unit-verification-token"
CREDS = Credentials(verification_token=TOKEN, encrypt_key=KEY)


class Rig:
    def __init__(self, encrypt_key: str | None = KEY, **env: str) -> None:
        settings = load_settings(
            {
                "LARK_VERIFICATION_TOKEN": TOKEN,
                "LARK_DEMO_HANDLERS": "true",
                **({"LARK_ENCRYPT_KEY": encrypt_key} if encrypt_key else {"LARK_ALLOW_PLAINTEXT": "true"}),
                **env,
            }
        )
        self.dedupe = MemoryDedupe()
        self.queue = ListQueue()
        self.metrics = Recorder()
        self.webhook = Webhook(settings, self.dedupe, self.queue, emit=self.metrics)

    def post(self, headers: dict[str, str], body: bytes, path: str = "/lark/events") -> Reply:
        return self.webhook.handle(Request.create("POST", path, headers, body))

    def send(self, kind: str, creds: Credentials = CREDS, **kw: Any) -> Reply:
        return self.post(*signed_request(kind, creds, **kw))

    def rejected(self) -> list[str]:
        return [d["reason"] for d in self.metrics.find("WebhookRequestsRejected")]


def resign(headers: dict[str, str], body: bytes, key: str = KEY) -> dict[str, str]:
    ts, nonce = headers["x-lark-request-timestamp"], headers["x-lark-request-nonce"]
    return {**headers, "x-lark-signature": crypto.signature(ts, nonce, key, body)}


def test_signed_encrypted_event_is_queued_once_as_an_envelope() -> None:
    rig = Rig()
    reply = rig.send("message", event_id="e1")
    assert (reply.status, reply.body) == (200, {"msg": "success"})
    assert len(rig.queue.messages) == 1
    envelope = Envelope.from_json(rig.queue.messages[0])
    assert (envelope.kind, envelope.schema, envelope.event_id) == ("event", "2.0", "e1")
    assert envelope.event_type == "im.message.receive_v1"
    assert envelope.event["message"]["chat_id"] == "oc_local_chat"
    assert rig.dedupe.records == {"webhook#e1": "COMPLETED"}


def test_duplicate_is_acknowledged_and_not_queued_again() -> None:
    rig = Rig()
    assert rig.send("message", event_id="e1").status == 200
    reply = rig.send("message", event_id="e1")
    assert (reply.status, reply.body, reply.route) == (200, {"msg": "success"}, "duplicate")
    assert len(rig.queue.messages) == 1
    assert rig.metrics.find("WebhookDuplicates") == [{"event_type": "im.message.receive_v1"}]


def test_schema_1_app_ticket_is_queued_under_its_uuid() -> None:
    rig = Rig()
    assert rig.send("app_ticket", event_id="u1").status == 200
    envelope = Envelope.from_json(rig.queue.messages[0])
    assert (envelope.schema, envelope.event_id, envelope.event_type) == ("1.0", "u1", "app_ticket")
    assert envelope.event["app_ticket"].startswith("ticket-")


def test_encrypted_unsigned_challenge_is_answered_in_plaintext() -> None:
    rig = Rig()
    headers, body = signed_request("url_verification", CREDS, event_id="abcdef123456")
    assert "x-lark-signature" not in headers
    reply = rig.post(headers, body)
    assert (reply.status, reply.body) == (200, {"challenge": "challenge-abcdef123456"})
    assert rig.queue.messages == []


def test_plain_challenge_is_answered_without_an_encrypt_key() -> None:
    rig = Rig(encrypt_key=None)
    reply = rig.send("url_verification", Credentials(TOKEN, None), event_id="abcdef123456")
    assert reply.body == {"challenge": "challenge-abcdef123456"}


def test_challenge_with_wrong_token_is_401() -> None:
    rig = Rig()
    reply = rig.send("url_verification", Credentials("wrong", KEY))
    assert (reply.status, reply.body["error"]) == (401, "bad_token")


def test_every_verified_event_type_is_queued_without_a_list_of_handled_types() -> None:
    # Lark pushes only subscribed types; the worker counts and drops what nobody handles.
    rig = Rig()
    reply = rig.send("unknown")
    assert (reply.status, reply.body, reply.route) == (200, {"msg": "success"}, "event")
    assert [json.loads(m)["event_type"] for m in rig.queue.messages] == ["contact.user.created_v3"]


def test_card_callback_gets_the_demo_toast_and_is_queued_once() -> None:
    rig = Rig()
    reply = rig.send("card", event_id="c1")
    assert reply.status == 200
    assert reply.body["toast"]["type"] == "success"
    assert "ou_local_user" in reply.body["toast"]["content"]
    envelope = Envelope.from_json(rig.queue.messages[0])
    assert (envelope.kind, envelope.schema) == ("card", "card.v2")
    assert rig.send("card", event_id="c1").body == {}
    assert len(rig.queue.messages) == 1


def test_legacy_card_is_verified_with_sha1_and_answered() -> None:
    rig = Rig()
    headers, body = signed_request("card_legacy", CREDS)
    reply = rig.post(headers, body)
    assert (reply.status, reply.body, reply.route) == (200, {}, "card")
    bad = {**headers, "x-lark-signature": "0" * 40}
    assert rig.post(bad, body).status == 401
    unsigned = {k: v for k, v in headers.items() if k != "x-lark-signature"}
    assert rig.post(unsigned, body).body["error"] == "missing_signature"


def test_headers_are_case_insensitive() -> None:
    rig = Rig()
    headers, body = signed_request("message", CREDS)
    shouted = {k.upper() if k.startswith("x-") else k: v for k, v in headers.items()}
    assert rig.post(shouted, body).status == 200


# --- the table ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "body is not valid JSON"),
        (b"[1,2]", "body is not a JSON object"),
        (b"\xff\xfe", "body is not valid JSON"),
    ],
)
def test_body_not_json_is_400(body: bytes, message: str) -> None:
    reply = Rig().post({}, body)
    assert reply.status == 400
    assert reply.body["msg"] == message


@pytest.mark.parametrize(
    ("encrypt", "message"),
    [
        ("%%%not-base64%%%", "not valid base64"),
        (base64.b64encode(b"0" * 20).decode(), "wrong length"),
        (base64.b64encode(b"0" * 48).decode(), "bad padding"),
        (12345, "not a string"),
    ],
)
def test_bad_encrypt_field_is_400_naming_the_problem(encrypt: Any, message: str) -> None:
    rig = Rig()
    headers, _ = signed_request("message", CREDS)
    body = json.dumps({"encrypt": encrypt}).encode()
    reply = rig.post(resign(headers, body), body)
    assert reply.status == 400
    assert message in reply.body["msg"]
    assert rig.queue.messages == []


def test_decrypted_body_not_json_is_400() -> None:
    rig = Rig()
    headers, _ = signed_request("message", CREDS)
    body = json.dumps({"encrypt": crypto.encrypt(KEY, b"<xml/>")}).encode()
    reply = rig.post(resign(headers, body), body)
    assert (reply.status, reply.body["msg"]) == (400, "decrypted body is not valid JSON")


def test_missing_signature_is_401() -> None:
    rig = Rig()
    headers, body = signed_request("message", CREDS)
    del headers["x-lark-signature"]
    reply = rig.post(headers, body)
    assert (reply.status, reply.body["error"]) == (401, "missing_signature")
    assert rig.queue.messages == []


def test_unsigned_garbage_gets_the_same_answer_as_a_missing_signature() -> None:
    """No padding oracle: an unsigned request cannot tell bad padding from a valid event."""
    rig = Rig()
    garbage = json.dumps({"encrypt": base64.b64encode(b"0" * 48).decode()}).encode()
    assert rig.post({}, garbage).body == rig.post(*_unsigned_event()).body


def _unsigned_event() -> tuple[dict[str, str], bytes]:
    _, body = signed_request("message", CREDS)
    return {"content-type": "application/json"}, body


def test_wrong_signature_is_401() -> None:
    rig = Rig()
    headers, body = signed_request("message", CREDS)
    headers["x-lark-signature"] = "f" * 64
    assert rig.post(headers, body).body["error"] == "bad_signature"
    tampered = body.replace(b'"}', b'X"}')
    headers2, _ = signed_request("message", CREDS)
    assert rig.post(headers2, tampered).status == 401
    assert rig.queue.messages == []


def test_wrong_verification_token_is_401() -> None:
    rig = Rig()
    reply = rig.send("message", Credentials("not-the-token", KEY))
    assert (reply.status, reply.body["error"]) == (401, "bad_token")
    assert "not-the-token" not in reply.json()
    assert TOKEN not in reply.json()


def test_stale_and_future_timestamps_are_401() -> None:
    rig = Rig()
    day = 24 * 3600
    stale = rig.send("message", now=time.time() - day - 60)
    assert (stale.status, stale.body["error"]) == (401, "stale")
    assert rig.send("message", now=time.time() - day + 60).status == 200
    future = rig.send("message", now=time.time() + 3600)
    assert (future.status, future.body["error"]) == (401, "stale")
    headers, body = signed_request("message", CREDS)
    headers = resign({**headers, "x-lark-request-timestamp": "yesterday"}, body)
    assert rig.post(headers, body).body["error"] == "bad_timestamp"


def test_plaintext_push_with_encrypt_key_is_401() -> None:
    rig = Rig()
    reply = rig.send("message", Credentials(TOKEN, None))
    assert (reply.status, reply.body["error"]) == (401, "plaintext")
    assert rig.queue.messages == []


def test_plaintext_push_without_encrypt_key_is_queued() -> None:
    rig = Rig(encrypt_key=None)
    assert rig.send("message", Credentials(TOKEN, None)).status == 200
    assert len(rig.queue.messages) == 1


def test_encrypted_push_without_encrypt_key_is_400() -> None:
    rig = Rig(encrypt_key=None)
    reply = rig.send("message")
    assert (reply.status, reply.body["error"]) == (400, "not_configured")


def test_oversized_body_is_413() -> None:
    rig = Rig(LARK_MAX_BODY_BYTES="1000")
    reply = rig.post({}, b"{" + b" " * 1000 + b"}")
    assert (reply.status, reply.body["error"]) == (413, "too_large")
    event = function_url_event("POST", "/lark/events", {}, b"x" * 2000, base64_body=True)
    assert rig.webhook.answer(lambda: to_request(event)).status == 413


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/lark/events", 405),
        ("PUT", "/lark/events", 405),
        ("POST", "/nope", 404),
        ("POST", "/health", 405),
    ],
)
def test_routes(method: str, path: str, status: int) -> None:
    reply = Rig().webhook.handle(Request.create(method, path, {}, b"{}"))
    assert reply.status == status
    assert reply.body["msg"]


def test_shape_errors_name_the_missing_field() -> None:
    rig = Rig(encrypt_key=None)
    created = str(int(time.time() * 1000))
    body = json.dumps(
        {"schema": "2.0", "header": {"token": TOKEN, "event_type": "x", "create_time": created}}
    ).encode()
    reply = rig.post({}, body)
    assert (reply.status, reply.body["msg"]) == (400, "header.event_id is missing or not a string")
    reply = rig.post({}, json.dumps({"hello": "world", "token": TOKEN}).encode())
    assert reply.status == 400
    assert "unrecognised push" in reply.body["msg"]


def test_base64_function_url_body_is_decoded() -> None:
    headers, body = signed_request("message", CREDS)
    request = to_request(function_url_event("POST", "/lark/events", headers, body, base64_body=True))
    assert request.body == body
    broken = function_url_event("POST", "/lark/events", headers, body, base64_body=True)
    broken["body"] = "***"
    with pytest.raises(Rejected, match="not valid base64"):
        to_request(broken)


# --- failures of the dependencies -----------------------------------------------------------------
def test_enqueue_failure_is_503_and_the_retry_goes_through() -> None:
    rig = Rig()
    rig.queue.fail = True
    first = rig.send("message", event_id="e9")
    assert (first.status, first.body["error"]) == (503, "queue_unavailable")
    assert rig.dedupe.records == {}
    rig.queue.fail = False
    assert rig.send("message", event_id="e9").status == 200
    assert len(rig.queue.messages) == 1


def test_dedupe_failure_is_503_and_nothing_is_queued() -> None:
    rig = Rig()
    rig.dedupe.fail = True
    reply = rig.send("message")
    assert (reply.status, reply.body["error"]) == (503, "dedupe_unavailable")
    assert rig.queue.messages == []


def test_health_names_the_failing_dependency() -> None:
    rig = Rig()
    ok = rig.webhook.handle(Request.create("GET", "/health", {}, b""))
    assert (ok.status, ok.body["status"]) == (200, "ok")
    rig.queue.fail = True
    rig.webhook.health_cache_seconds = 0  # the cached answer is tested in test_webhook_hardening
    down = rig.webhook.handle(Request.create("GET", "/health", {}, b""))
    assert down.status == 503
    assert down.body["checks"]["queue"].startswith("SQS GetQueueAttributes failed")
    assert down.body["checks"]["table"] == "ok"


def test_secrets_never_reach_replies() -> None:
    rig = Rig()
    replies = [
        rig.send("message", Credentials("x", KEY)),
        rig.send("message", Credentials(TOKEN, "other-key")),
    ]
    for reply in replies:
        assert KEY not in reply.json()
        assert TOKEN not in reply.json()


@pytest.mark.parametrize("event", [None, [], "text", {"headers": {}}, {"requestContext": {"http": "x"}}])
def test_events_that_are_not_function_url_events_are_400(event: Any) -> None:
    with pytest.raises(Rejected) as info:
        to_request(event)
    assert (info.value.status, info.value.reason) == (400, "bad_event")


def test_token_is_checked_before_the_shape() -> None:
    rig = Rig(encrypt_key=None)
    body = json.dumps({"schema": "2.0", "header": {"token": "wrong"}}).encode()
    assert rig.post({}, body).body["error"] == "bad_token"
