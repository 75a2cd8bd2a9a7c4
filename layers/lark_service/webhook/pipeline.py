"""The webhook's request pipeline, in DESIGN.md's order.

size limit → JSON → signature (when an Encrypt Key is set) → decrypt → Verification Token →
challenge reply → de-duplicate → enqueue → ``200 {"msg":"success"}``.

Every refusal happens before anything is written, and the de-duplication record is claimed
before the enqueue and released when the enqueue fails, so a push is either on the queue once or
answered 5xx for Lark to retry: never lost, never queued twice. Storage and the queue are
passed in (``DedupeStore``, ``EventQueue``), so the whole pipeline runs in unit tests without AWS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from lark_service.config import Settings
from lark_service.envelope import Envelope
from lark_service.stores import DependencyError
from lark_service.webhook import crypto
from lark_service.webhook.cards import CardReplies
from lark_service.webhook.protocol import (
    NONCE,
    SIGNATURE,
    TIMESTAMP,
    Challenge,
    Rejected,
    Reply,
    Request,
    is_legacy_card,
    load_json_object,
    parse_push,
    push_token,
)

EVENTS_PATH = "/lark/events"
HEALTH_PATH = "/health"
MAX_CLOCK_SKEW_SECONDS = 300
"""How far ahead of our clock a signed timestamp may be before it counts as forged."""
SUCCESS: dict[str, Any] = {"msg": "success"}
MAX_MESSAGE_BYTES = 256 * 1024
"""SQS's message limit: a larger push can never be queued, so retrying it would be pointless."""
DEDUPE_PREFIX = "webhook#"
"""Keys in the shared idempotency table; the worker's Powertools records use other prefixes."""


class DedupeStore(Protocol):
    def claim(self, key: str) -> bool:
        """Atomically record ``key``; False when a live record exists (a duplicate)."""

    def confirm(self, key: str) -> None:
        """Mark the claim as done once the push is queued."""

    def release(self, key: str) -> None:
        """Drop an unconfirmed claim so Lark's retry is not mistaken for a duplicate."""

    def check(self) -> None:
        """Raise ``DependencyError`` when the store is unreachable."""


class EventQueue(Protocol):
    def send(self, body: str) -> None: ...

    def check(self) -> None: ...


Emit = Callable[..., None]


def _no_emit(name: str, value: float = 1.0, **dimensions: str) -> None:
    return None


class Webhook:
    """One instance per warm function: configuration, stores and metric sink wired in once."""

    def __init__(
        self,
        settings: Settings,
        dedupe: DedupeStore,
        queue: EventQueue,
        *,
        cards: CardReplies | None = None,
        emit: Emit = _no_emit,
        clock: Callable[[], float] = time.time,
        log: Any = None,
    ) -> None:
        self.encrypt_key = settings.encrypt_key.get_secret_value() if settings.encrypt_key else None
        self.token = settings.verification_token.get_secret_value() if settings.verification_token else None
        self.max_body = settings.max_body_bytes
        self.ttl = settings.dedupe_ttl_seconds
        self.dedupe = dedupe
        self.queue = queue
        self.emit = emit
        self.clock = clock
        self.log = log or logging.getLogger(__name__)
        self.cards = cards or CardReplies(settings, self.log)

    # --- routing -------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        """Answer one request; only a failing dependency yields a 5xx."""
        try:
            path = request.path.rstrip("/") or "/"
            if path == EVENTS_PATH:
                if request.method != "POST":
                    raise Rejected(
                        405, "method_not_allowed", f"{request.method} is not allowed here; use POST"
                    )
                return self.push(request)
            if path == HEALTH_PATH:
                if request.method not in ("GET", "HEAD"):
                    raise Rejected(
                        405, "method_not_allowed", f"{request.method} is not allowed here; use GET"
                    )
                return self.health()
            raise Rejected(404, "not_found", f"no route for {path[:100]}; Lark pushes go to {EVENTS_PATH}")
        except Rejected as rejected:
            return self.reject(rejected)

    def reject(self, rejected: Rejected) -> Reply:
        self.emit("WebhookRequestsRejected", reason=rejected.reason)
        self.log.warning("request rejected", extra={"reason": rejected.reason, "status": rejected.status})
        reply = rejected.reply()
        if rejected.status >= 500:
            return Reply(reply.status, reply.body, "error")
        return reply

    def health(self) -> Reply:
        """Readiness: configuration loaded and both dependencies answering."""
        checks: dict[str, str] = {"config": "ok"}
        for name, probe in (("table", self.dedupe.check), ("queue", self.queue.check)):
            try:
                probe()
                checks[name] = "ok"
            except DependencyError as exc:
                checks[name] = str(exc)
        healthy = all(v == "ok" for v in checks.values())
        return Reply(
            200 if healthy else 503,
            {"status": "ok" if healthy else "unavailable", "checks": checks},
            "health",
        )

    # --- verification --------------------------------------------------------------------
    def push(self, request: Request) -> Reply:
        push = self.verify(request)
        if isinstance(push, Challenge):
            self.emit("WebhookEventsReceived", event_type="url_verification")
            return Reply(200, {"challenge": push.challenge}, "challenge")
        self.emit("WebhookEventsReceived", event_type=push.event_type)
        if push.kind == "card":
            return self._card(push)
        return self._deliver(push, SUCCESS, "event")

    def verify(self, request: Request) -> Challenge | Envelope:
        """Everything before the first write: size, JSON, signature, decryption, shape, token.

        Pure CPU (no I/O), which is what the warm per-event benchmark measures.
        """
        if len(request.body) > self.max_body:
            raise Rejected(
                413, "too_large", f"body is {len(request.body)} bytes; the limit is {self.max_body}"
            )
        doc = load_json_object(request.body, "body")
        legacy_card = False
        if "encrypt" in doc:
            doc = self._decrypt(request, doc)
        elif is_legacy_card(doc):
            self._verify_legacy_card(request)
            legacy_card = True
        elif self.encrypt_key is not None and doc.get("type") != "url_verification":
            raise Rejected(
                401,
                "plaintext",
                "plaintext push refused: an Encrypt Key is configured, so pushes must be encrypted",
            )
        if not legacy_card:
            # Before the shape is examined, so an unauthenticated sender learns nothing about it.
            self._check_token(doc)
        return parse_push(doc, request.body, self.clock())

    def _signature_headers(self, request: Request) -> tuple[str, str, str] | None:
        parts = (request.headers.get(TIMESTAMP), request.headers.get(NONCE), request.headers.get(SIGNATURE))
        if parts[0] is None or parts[1] is None or not parts[2]:
            return None
        return parts[0], parts[1], parts[2]

    def _check_timestamp(self, timestamp: str) -> None:
        try:
            sent = int(timestamp)
        except ValueError:
            raise Rejected(401, "bad_timestamp", f"{TIMESTAMP} is not a Unix time in seconds") from None
        now = self.clock()
        if now - sent > self.ttl:
            raise Rejected(401, "stale", f"request timestamp is older than the {self.ttl} s replay window")
        if sent - now > MAX_CLOCK_SKEW_SECONDS:
            raise Rejected(401, "stale", "request timestamp is in the future")

    def _decrypt(self, request: Request, doc: dict[str, Any]) -> dict[str, Any]:
        if self.encrypt_key is None:
            raise Rejected(400, "not_configured", "push is encrypted but LARK_ENCRYPT_KEY is not configured")
        encrypted = doc["encrypt"]
        if not isinstance(encrypted, str):
            raise Rejected(400, "bad_encrypt", "encrypt is not a string")
        signed = self._signature_headers(request)
        if signed is None:
            # Only the URL challenge comes unsigned. Every failure gets the same answer here, so
            # an unsigned request cannot be used as a padding oracle against captured pushes.
            missing = Rejected(
                401, "missing_signature", f"{SIGNATURE} with its timestamp and nonce is required"
            )
            try:
                inner = load_json_object(crypto.decrypt(self.encrypt_key, encrypted), "decrypted body")
            except (crypto.DecryptError, Rejected):
                raise missing from None
            if inner.get("type") != "url_verification":
                raise missing
            return inner
        timestamp, nonce, given = signed
        expected = crypto.signature(timestamp, nonce, self.encrypt_key, request.body)
        if not crypto.same(expected, given.lower()):
            raise Rejected(401, "bad_signature", f"{SIGNATURE} does not match the body")
        self._check_timestamp(timestamp)
        try:
            plain = crypto.decrypt(self.encrypt_key, encrypted)
        except crypto.DecryptError as exc:
            raise Rejected(400, "bad_encrypt", str(exc)) from None
        return load_json_object(plain, "decrypted body")

    def _verify_legacy_card(self, request: Request) -> None:
        if self.token is None:
            return
        signed = self._signature_headers(request)
        if signed is None:
            raise Rejected(401, "missing_signature", f"card callbacks need {SIGNATURE}, timestamp and nonce")
        timestamp, nonce, given = signed
        expected = crypto.card_signature(timestamp, nonce, self.token, request.body)
        if not crypto.same(expected, given.lower()):
            raise Rejected(401, "bad_signature", f"{SIGNATURE} does not match the card callback")
        self._check_timestamp(timestamp)

    def _check_token(self, doc: dict[str, Any]) -> None:
        if self.token is None:
            return
        given = push_token(doc)
        if given is None or not crypto.same(self.token, given):
            raise Rejected(401, "bad_token", "verification token is missing or wrong")

    # --- delivery ------------------------------------------------------------------------
    def _card(self, envelope: Envelope) -> Reply:
        key = DEDUPE_PREFIX + envelope.event_id
        if not self._claim(key, envelope):
            return Reply(200, {}, "duplicate")
        try:
            body = self.cards.reply(envelope)
        except Exception:
            # A broken card handler must not make Lark retry a click for hours: answer ``{}``.
            self.log.exception("card handler failed", extra={"event_type": envelope.event_type})
            body = {}
        # Queued too: worker handlers for card.action.trigger do what the 3 s reply cannot.
        return self._deliver(envelope, body, "card", claimed=key)

    def _deliver(
        self, envelope: Envelope, body: dict[str, Any], route: str, claimed: str | None = None
    ) -> Reply:
        key = claimed or DEDUPE_PREFIX + envelope.event_id
        if claimed is None and not self._claim(key, envelope):
            return Reply(200, SUCCESS if route == "event" else {}, "duplicate")
        message = envelope.to_json()
        if len(message.encode("utf-8")) > MAX_MESSAGE_BYTES:
            self._release(key)
            raise Rejected(
                413, "too_large", f"push exceeds the queue's {MAX_MESSAGE_BYTES} byte message limit"
            )
        try:
            self.queue.send(message)
        except DependencyError as exc:
            self.log.error("enqueue failed; claim released for Lark's retry", extra={"error": str(exc)})
            self._release(key)
            raise Rejected(503, "queue_unavailable", "the event could not be queued; retry later") from None
        self._confirm(key)
        return Reply(200, body, route)

    def _claim(self, key: str, envelope: Envelope) -> bool:
        try:
            claimed = self.dedupe.claim(key)
        except DependencyError as exc:
            self.log.error("de-duplication store failed", extra={"error": str(exc)})
            raise Rejected(
                503, "dedupe_unavailable", "the event could not be recorded; retry later"
            ) from None
        if not claimed:
            self.emit("WebhookDuplicates", event_type=envelope.event_type)
            self.log.info("duplicate delivery acknowledged", extra={"event_type": envelope.event_type})
        return claimed

    def _release(self, key: str) -> None:
        try:
            self.dedupe.release(key)
        except DependencyError as exc:
            # The claim's short lease still lets Lark's retry through.
            self.log.error("release failed", extra={"error": str(exc)})

    def _confirm(self, key: str) -> None:
        try:
            self.dedupe.confirm(key)
        except DependencyError as exc:
            # Queued already; an unconfirmed claim only means a later retry might queue again,
            # which the worker's own idempotency absorbs.
            self.log.error("confirm failed", extra={"error": str(exc)})
