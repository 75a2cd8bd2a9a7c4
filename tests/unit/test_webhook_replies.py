"""The webhook's replies in full (status, body, route label) for card callbacks, health and refusals.

Pushes are built by the test's own oracle (``tests/lark_oracle.py``: hashlib and AES from Lark's
docs). Lark's card callback contract ("Card callback communication"): answer within 3 s with
HTTP 200 and a JSON body (``{}`` changes nothing on the card); any other status shows the user an
error and Lark retries. The route label is the ack-latency metric's bounded dimension.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import pytest

from lark_service.envelope import Envelope
from lark_service.stores import DependencyError
from lark_service.webhook.pipeline import Webhook
from lark_service.webhook.protocol import Reply, Request
from tests import lark_oracle as lark
from tests.unit.fakes import ListQueue, MemoryDedupe, Recorder, webhook_settings

KEY = "replies-encrypt-key"
TOKEN = "replies-verification-token"


class Cards:
    """Stands in for ``CardReplies``: answers each click with ``body`` or raises ``error``."""

    def __init__(self, body: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.body = body or {}
        self.error = error
        self.seen: list[Envelope] = []

    def reply(self, envelope: Envelope) -> dict[str, Any]:
        self.seen.append(envelope)
        if self.error:
            raise self.error
        return self.body


class Rig:
    def __init__(self, cards: Cards | None = None, *, encrypt_key: str | None = KEY, **env: str) -> None:
        environ = {"LARK_VERIFICATION_TOKEN": TOKEN, **env}
        if encrypt_key:
            environ["LARK_ENCRYPT_KEY"] = encrypt_key
        self.dedupe = MemoryDedupe()
        self.queue = ListQueue()
        self.metrics = Recorder()
        self.cards = cards or Cards()
        self.webhook = Webhook(
            webhook_settings(environ),
            self.dedupe,
            self.queue,
            cards=self.cards,  # type: ignore[arg-type]
            emit=self.metrics,
        )

    def post(self, headers: dict[str, str], body: bytes) -> Reply:
        return self.webhook.handle(Request.create("POST", "/lark/events", headers, body))

    def push(self, doc: dict[str, Any]) -> Reply:
        return self.post(*lark.signed_push(doc, KEY))


def card_v2(event_id: str | None = None) -> dict[str, Any]:
    """``card.action.trigger`` as Lark's card callback page lays it out."""
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id or uuid.uuid4().hex,
            "token": TOKEN,
            "create_time": str(int(time.time() * 1_000_000)),
            "event_type": "card.action.trigger",
            "tenant_key": "tenant-oracle",
            "app_id": "cli_oracle",
        },
        "event": {
            "operator": {"open_id": "ou_oracle"},
            "action": {"value": {"action": "approve"}, "tag": "button"},
            "context": {"open_message_id": "om_oracle", "open_chat_id": "oc_oracle"},
        },
    }


def test_a_card_click_is_answered_by_its_handler_queued_and_confirmed() -> None:
    rig = Rig(Cards({"toast": {"type": "success", "content": "done"}}))
    doc = card_v2("ev-card-1")
    reply = rig.push(doc)
    assert reply == Reply(200, {"toast": {"type": "success", "content": "done"}}, "card")
    assert [json.loads(m)["event_id"] for m in rig.queue.messages] == ["ev-card-1"]
    assert rig.dedupe.records == {"webhook#ev-card-1": "COMPLETED"}
    assert [e.event_id for e in rig.cards.seen] == ["ev-card-1"]


def test_a_repeated_card_click_delivery_is_a_quiet_200() -> None:
    rig = Rig(Cards({"toast": {"type": "success", "content": "done"}}))
    doc = card_v2("ev-card-2")
    rig.push(doc)
    again = rig.push(doc)
    assert again == Reply(200, {}, "duplicate")
    assert len(rig.queue.messages) == 1
    assert len(rig.cards.seen) == 1  # the handler does not run twice
    assert ("WebhookDuplicates", {"event_type": "card.action.trigger"}) in rig.metrics.calls


def test_a_card_handler_that_raises_is_answered_with_an_empty_body_and_still_queued() -> None:
    rig = Rig(Cards(error=RuntimeError("handler bug")))
    reply = rig.push(card_v2("ev-card-3"))
    assert reply == Reply(200, {}, "card")
    assert len(rig.queue.messages) == 1
    assert rig.dedupe.records == {"webhook#ev-card-3": "COMPLETED"}


def test_a_card_that_cannot_be_queued_is_a_503_and_leaves_no_claim() -> None:
    rig = Rig(Cards({"toast": {"type": "info", "content": "x"}}))
    rig.queue.fail = True
    reply = rig.push(card_v2("ev-card-4"))
    assert reply == Reply(
        503, {"error": "queue_unavailable", "msg": "the event could not be queued; retry later"}, "error"
    )
    assert rig.dedupe.items == {}
    rig.queue.fail = False
    assert rig.push(card_v2("ev-card-4")).status == 200  # Lark's retry goes through


def test_an_event_that_cannot_be_queued_is_a_503_and_leaves_no_claim() -> None:
    rig = Rig()
    rig.queue.fail = True
    reply = rig.push(lark.event_v2("ev-q-1", token=TOKEN))
    assert reply == Reply(
        503, {"error": "queue_unavailable", "msg": "the event could not be queued; retry later"}, "error"
    )
    assert rig.dedupe.items == {}
    assert ("WebhookRequestsRejected", {"reason": "queue_unavailable"}) in rig.metrics.calls


class ReleaseFails(MemoryDedupe):
    def release(self, key: str, claim_id: str) -> None:
        raise DependencyError("DynamoDB DeleteItem failed (ServiceUnavailable)")


def test_a_failed_release_still_answers_503() -> None:
    rig = Rig()
    rig.webhook.dedupe = ReleaseFails()
    rig.queue.fail = True
    assert rig.push(lark.event_v2("ev-q-2", token=TOKEN)).status == 503


def test_a_store_outage_is_a_503_naming_the_record() -> None:
    rig = Rig()
    rig.dedupe.fail = True
    reply = rig.push(lark.event_v2("ev-d-1", token=TOKEN))
    assert reply == Reply(
        503, {"error": "dedupe_unavailable", "msg": "the event could not be recorded; retry later"}, "error"
    )
    assert rig.queue.messages == []


def test_health_names_each_dependency_and_the_failing_one() -> None:
    rig = Rig()
    healthy = rig.webhook.handle(Request.create("GET", "/health", {}, b""))
    assert healthy == Reply(
        200, {"status": "ok", "checks": {"config": "ok", "table": "ok", "queue": "ok"}}, "health"
    )
    rig = Rig()
    rig.queue.fail = True
    sick = rig.webhook.handle(Request.create("GET", "/health", {}, b""))
    assert sick == Reply(
        503,
        {
            "status": "unavailable",
            "checks": {
                "config": "ok",
                "table": "ok",
                "queue": "SQS GetQueueAttributes failed (QueueDoesNotExist)",
            },
        },
        "health",
    )


def test_a_plaintext_push_without_a_create_time_is_refused() -> None:
    rig = Rig(encrypt_key=None, LARK_ALLOW_PLAINTEXT="true")
    doc = lark.event_v2("ev-p-1", token=TOKEN)
    del doc["header"]["create_time"]
    reply = rig.post({"content-type": "application/json"}, json.dumps(doc).encode())
    assert reply == Reply(
        401,
        {
            "error": "bad_timestamp",
            "msg": "plaintext push without a usable header.create_time (2.0) or ts (1.0)",
        },
        "rejected",
    )
    assert rig.queue.messages == []


LEGACY = {
    "open_id": "ou_legacy",
    "open_message_id": "om_legacy",
    "tenant_key": "tenant-oracle",
    "token": "c-update-token",
    "action": {"value": {"action": "approve"}, "tag": "button"},
}


def test_a_legacy_card_with_a_wrong_signature_is_refused_by_name() -> None:
    rig = Rig()
    body = json.dumps(LEGACY).encode()
    timestamp, nonce = str(int(time.time())), "n-legacy"
    wrong = lark.sign_card(timestamp, nonce, "another-token", body)
    headers = {
        "x-lark-request-timestamp": timestamp,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": wrong,
    }
    reply = rig.post(headers, body)
    assert reply == Reply(
        401,
        {"error": "bad_signature", "msg": "x-lark-signature does not match the card callback"},
        "rejected",
    )
    good = lark.sign_card(timestamp, nonce, TOKEN, body)
    assert rig.post({**headers, "x-lark-signature": good.upper()}, body).status == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/lark/events", 405, "GET is not allowed here; use POST"),
        ("POST", "/health", 405, "POST is not allowed here; use GET"),
        ("GET", "/elsewhere", 404, "no route for /elsewhere; Lark pushes go to /lark/events"),
    ],
)
def test_routing_refusals_name_the_way(method: str, path: str, status: int, message: str) -> None:
    reply = Rig().webhook.handle(Request.create(method, path, {}, b""))
    assert (reply.status, reply.body["msg"], reply.route) == (status, message, "rejected")


# --- every refusal in full: status, the metric's reason, the message naming the problem ----------


def _encrypted(
    doc: dict[str, Any], *, now: float | None = None, **drop: bool
) -> tuple[dict[str, str], bytes]:
    headers, body = lark.signed_push(doc, KEY, now=now)
    return {k: v for k, v in headers.items() if not drop.get(k.replace("-", "_"))}, body


def _refused(reply: Reply, status: int, reason: str, message: str) -> None:
    assert reply == Reply(status, {"error": reason, "msg": message}, "error" if status >= 500 else "rejected")


def test_a_push_missing_one_signature_header_is_unsigned() -> None:
    rig = Rig()
    for header in ("x_lark_request_nonce", "x_lark_request_timestamp", "x_lark_signature"):
        reply = rig.post(*_encrypted(lark.event_v2(token=TOKEN), **{header: True}))
        _refused(reply, 401, "missing_signature", "x-lark-signature with its timestamp and nonce is required")
    assert rig.queue.messages == []


def test_non_ascii_signature_headers_are_refused_by_name() -> None:
    rig = Rig()
    headers, body = _encrypted(lark.event_v2(token=TOKEN))
    reply = rig.post({**headers, "x-lark-request-nonce": "nonce-é"}, body)
    _refused(reply, 401, "bad_signature", "signature headers must be ASCII")
    assert ("WebhookRequestsRejected", {"reason": "bad_signature"}) in rig.metrics.calls


def test_a_signature_over_other_bytes_is_refused_by_name() -> None:
    rig = Rig()
    headers, body = _encrypted(lark.event_v2(token=TOKEN))
    reply = rig.post(headers, body.replace(b'{"encrypt":', b'{"encrypt" :'))
    _refused(reply, 401, "bad_signature", "x-lark-signature does not match the body")


@pytest.mark.parametrize(
    ("timestamp", "reason", "message"),
    [
        (999_999_999_999, "stale", "request timestamp is in the future"),  # 12 digits: a Unix time
        (1_000_000_000_000, "bad_timestamp", "x-lark-request-timestamp is not a Unix time in seconds"),
        (1_000, "stale", "request timestamp is older than the 86400 s replay window"),
    ],
)
def test_the_signed_timestamp_must_be_seconds_within_the_window(
    timestamp: int, reason: str, message: str
) -> None:
    rig = Rig()
    reply = rig.post(*_encrypted(lark.event_v2(token=TOKEN), now=timestamp))
    _refused(reply, 401, reason, message)


def test_an_encrypted_push_without_an_encrypt_key_is_refused_by_name() -> None:
    rig = Rig(encrypt_key=None, LARK_ALLOW_PLAINTEXT="true")
    reply = rig.post(*_encrypted(lark.event_v2(token=TOKEN)))
    _refused(reply, 400, "not_configured", "push is encrypted but LARK_ENCRYPT_KEY is not configured")


def test_an_encrypt_field_that_is_not_text_is_refused_by_name() -> None:
    reply = Rig().post({}, b'{"encrypt": 5}')
    _refused(reply, 400, "bad_encrypt", "encrypt is not a string")


def test_a_signed_push_that_does_not_decrypt_is_a_400() -> None:
    rig = Rig()
    body = json.dumps({"encrypt": "bm90IGEgY2lwaGVydGV4dA=="}).encode()
    timestamp, nonce = str(int(time.time())), "n-bad"
    headers = {
        "x-lark-request-timestamp": timestamp,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": lark.sign(timestamp, nonce, KEY, body),
    }
    reply = rig.post(headers, body)
    assert (reply.status, reply.body["error"], reply.route) == (400, "bad_encrypt", "rejected")


def test_a_signed_push_that_decrypts_to_no_json_names_the_decrypted_body() -> None:
    reply = Rig().post(*lark.encrypted_request(b"not json", KEY))
    _refused(reply, 400, "bad_json", "decrypted body is not valid JSON")


def test_a_wrong_token_is_refused_by_name() -> None:
    reply = Rig().push(lark.event_v2(token="another-token"))
    _refused(reply, 401, "bad_token", "verification token is missing or wrong")


def test_a_push_over_the_queue_s_limit_is_refused_naming_its_event(caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig()
    reply = rig.push(lark.event_v2("ev-big", token=TOKEN, text="x" * 300_000))
    _refused(reply, 413, "too_large", "push exceeds the queue's 262144 byte message limit")
    assert [getattr(r, "event_id", None) for r in caplog.records if r.getMessage() == "request rejected"] == [
        "ev-big"
    ]
    assert rig.dedupe.items == {}


def test_a_copy_meeting_a_live_claim_is_a_409_naming_its_event(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    rig = Rig()
    rig.dedupe.claim("webhook#ev-busy", "another-request", time.time() + 3600)
    reply = rig.push(lark.event_v2("ev-busy", token=TOKEN))
    assert reply == Reply(
        409,
        {"error": "in_progress", "msg": "another delivery of this event is being queued; retry later"},
        "in_progress",
    )
    logged = [r for r in caplog.records if r.getMessage().startswith("delivery in progress elsewhere")]
    assert [getattr(r, "event_id", None) for r in logged] == ["ev-busy"]


def test_only_a_repeat_counts_as_a_duplicate() -> None:
    rig = Rig()
    doc = lark.event_v2("ev-once", token=TOKEN)
    assert rig.push(doc).status == 200
    assert "WebhookDuplicates" not in rig.metrics.names()
    assert rig.push(doc).status == 200
    assert rig.metrics.names().count("WebhookDuplicates") == 1
