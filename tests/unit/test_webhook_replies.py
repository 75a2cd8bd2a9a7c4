"""The webhook's replies in full (status, body, route label) for card callbacks, health and refusals.

Pushes are built by the test's own oracle (``tests/lark_oracle.py``: hashlib and AES from Lark's
docs). Lark's card callback contract ("Card callback communication"): answer within 3 s with
HTTP 200 and a JSON body (``{}`` changes nothing on the card); any other status shows the user an
error and Lark retries. The route label is the ack-latency metric's bounded dimension.
"""

from __future__ import annotations

import json
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
