"""The webhook's request pipeline.

size limit → JSON → signature (when an Encrypt Key is set) → decrypt → shape → Verification
Token → challenge reply → de-duplicate → enqueue → ``200 {"msg":"success"}``.

The rules it keeps (docs/reliability.md has the whole list and the drills that prove them):

* **200 only when the push is on the queue**, queued by this request or by an earlier one that
  completed. A copy that meets another request's unfinished claim is answered 409 so Lark
  retries it; a failed enqueue releases the claim and answers 503.
* **4xx for every bad request**, with a reason; a 5xx means a dependency (DynamoDB, SQS) failed.
* **Nothing secret is queued**: the Verification Token is dropped from the message.

Storage and the queue are passed in (``DedupeStore``, ``EventQueue``), so the whole pipeline
runs in unit tests without AWS. ``Rejected`` becomes a reply in one place: ``answer``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lark_service.config import ConfigError, Settings
from lark_service.envelope import Envelope
from lark_service.stores import DependencyError
from lark_service.stores.dedupe import Claim, new_claim_id
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
    Shape,
    classify,
    created_at,
    load_json_object,
    parse,
    push_token,
)

EVENTS_PATH = "/lark/events"
HEALTH_PATH = "/health"
MAX_CLOCK_SKEW_SECONDS = 300
"""How far ahead of our clock a push's timestamp may be before it counts as forged."""
SUCCESS: dict[str, Any] = {"msg": "success"}
MAX_MESSAGE_BYTES = 256 * 1024
"""The largest message the webhook queues. SQS accepts up to the queue's ``MaximumMessageSize``;
256 KiB keeps a full batch of ten (2.5 MiB) well inside Lambda's 6 MB invocation payload."""
DEDUPE_PREFIX = "webhook#"
"""Keys in the shared idempotency table; the worker's Powertools records use other prefixes."""
HEALTH_CACHE_SECONDS = 5.0
"""A health probe's answer is reused this long: a flood of ``GET /health`` costs one probe."""


class DedupeStore(Protocol):
    def claim(self, key: str, claim_id: str, expires_at: float) -> Claim:
        """Atomically record ``key`` for this request (``claim_id``) until ``expires_at``."""

    def confirm(self, key: str, claim_id: str) -> None:
        """Mark the claim done once the push is queued."""

    def release(self, key: str, claim_id: str) -> None:
        """Drop this request's unconfirmed claim so Lark's retry is not refused."""

    def check(self) -> None:
        """Raise ``DependencyError`` when the store is unreachable."""


class EventQueue(Protocol):
    def send(self, body: str) -> None: ...

    def check(self) -> None: ...


Emit = Callable[..., None]


def _no_emit(name: str, value: float = 1.0, **dimensions: str) -> None:
    return None


def _no_correlation(correlation_id: str | None) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Verified:
    push: Challenge | Envelope
    sent_at: float
    """The push's authenticated (or, in plaintext mode, claimed) creation time; the replay
    window runs from here."""


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
        monotonic: Callable[[], float] = time.monotonic,
        log: Any = None,
        correlate: Callable[[str | None], None] = _no_correlation,
    ) -> None:
        self.log = log or logging.getLogger(__name__)
        self.encrypt_key = settings.encrypt_key.get_secret_value() if settings.encrypt_key else None
        if self.encrypt_key is None:
            if not settings.allow_plaintext:
                raise ConfigError(
                    "LARK_ENCRYPT_KEY is not set: pushes would arrive unsigned. Set the app's Encrypt"
                    " Key, or LARK_ALLOW_PLAINTEXT=true to accept plaintext pushes on purpose"
                )
            self.log.warning(
                "plaintext mode: no Encrypt Key, so pushes are unsigned; only the Verification Token"
                " and the push's own create time guard them (LARK_ALLOW_PLAINTEXT=true)"
            )
        # Required: a webhook without a token would accept any push that has the right shape.
        self.token = settings.require("verification_token")
        self.max_body = settings.max_body_bytes
        self.ttl = settings.dedupe_ttl_seconds
        self.dedupe = dedupe
        self.queue = queue
        self.emit = emit
        self.clock = clock
        self.cards = cards or CardReplies(settings, self.log)
        self.monotonic = monotonic
        self.correlate = correlate
        self.health_cache_seconds = HEALTH_CACHE_SECONDS
        self._health: tuple[float, Reply] | None = None
        self._health_lock = threading.Lock()

    # --- routing -------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply:
        return self.answer(lambda: request)

    def answer(self, receive: Callable[[], Request]) -> Reply:
        """Read the request and answer it; the one place a ``Rejected`` becomes a reply."""
        self.correlate(None)
        try:
            return self._route(receive())
        except Rejected as rejected:
            return self._refuse(rejected)
        except Exception:
            # A bug, not a bad request: Lark retries a 500, so the event is not lost meanwhile.
            self.log.exception("unexpected error")
            return Reply(500, {"error": "internal", "msg": "internal error"}, "error")

    def _route(self, request: Request) -> Reply:
        path = request.path.rstrip("/") or "/"
        if path == EVENTS_PATH:
            if request.method != "POST":
                raise Rejected(405, "method_not_allowed", f"{request.method} is not allowed here; use POST")
            return self.push(request)
        if path == HEALTH_PATH:
            if request.method not in ("GET", "HEAD"):
                raise Rejected(405, "method_not_allowed", f"{request.method} is not allowed here; use GET")
            return self.health()
        raise Rejected(404, "not_found", f"no route for {path[:100]}; Lark pushes go to {EVENTS_PATH}")

    def _refuse(self, rejected: Rejected) -> Reply:
        self.emit("WebhookRequestsRejected", reason=rejected.reason)
        extra: dict[str, Any] = {"reason": rejected.reason, "status": rejected.status}
        if rejected.event_id:
            extra["event_id"] = rejected.event_id
        if rejected.reason == "in_progress":
            self.log.info("delivery in progress elsewhere; Lark will retry", extra=extra)
        else:
            self.log.warning("request rejected", extra=extra)
        reply = rejected.reply()
        return Reply(reply.status, reply.body, "error") if rejected.status >= 500 else reply

    def health(self) -> Reply:
        """Readiness: configuration loaded and both dependencies answering (cached briefly)."""
        with self._health_lock:
            now = self.monotonic()
            if self._health is None or now - self._health[0] >= self.health_cache_seconds:
                self._health = (now, self._probe())
            return self._health[1]

    def _probe(self) -> Reply:
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
        verified = self.verify(request)
        push = verified.push
        if isinstance(push, Challenge):
            self.emit("WebhookEventsReceived", event_type="url_verification")
            return Reply(200, {"challenge": push.challenge}, "challenge")
        self.correlate(push.event_id)  # every later log line names the event, as the worker's do
        self.emit("WebhookEventsReceived", event_type=push.event_type)
        expires_at = max(self.clock(), verified.sent_at) + self.ttl
        if push.kind == "card":
            return self._card(push, expires_at)
        return self._deliver(push, expires_at, SUCCESS, "event")

    def verify(self, request: Request) -> Verified:
        """Everything before the first write: size, JSON, signature, decryption, shape, token.

        Pure CPU (no I/O), which is what the warm per-event benchmark measures.
        """
        if len(request.body) > self.max_body:
            raise Rejected(
                413, "too_large", f"body is {len(request.body)} bytes; the limit is {self.max_body}"
            )
        now = self.clock()
        doc = load_json_object(request.body, "body")
        encrypted = "encrypt" in doc
        sent_at: float | None = None
        if encrypted:
            doc, sent_at = self._decrypt(request, doc)
        shape = classify(doc)
        if shape is Shape.LEGACY_CARD:
            sent_at = self._verify_legacy_card(request)
        else:
            if not encrypted and self.encrypt_key is not None and shape is not Shape.CHALLENGE:
                raise Rejected(
                    401,
                    "plaintext",
                    "plaintext push refused: an Encrypt Key is configured, so pushes must be encrypted",
                )
            # Before the shape is examined, so an unauthenticated sender learns nothing about it.
            self._check_token(doc)
            if shape is None:
                raise Rejected(
                    400,
                    "bad_shape",
                    "unrecognised push: expected schema 2.0, a 1.0 event_callback, url_verification"
                    " or a card callback",
                )
            if not encrypted and shape is not Shape.CHALLENGE:
                sent_at = self._check_created_at(shape, doc)
        return Verified(parse(shape, doc, request.body, now), now if sent_at is None else sent_at)

    def _signature_headers(self, request: Request) -> tuple[str, str, str] | None:
        timestamp, nonce, given = (request.headers.get(name) for name in (TIMESTAMP, NONCE, SIGNATURE))
        if timestamp is None or nonce is None or not given:
            return None
        if not (timestamp.isascii() and nonce.isascii() and given.isascii()):
            # Lark sends ASCII; anything else cannot be a valid signature and must not reach
            # the UTF-8 encoder on the way to the digest.
            raise Rejected(401, "bad_signature", "signature headers must be ASCII")
        return timestamp, nonce, given

    def _check_timestamp(self, timestamp: str) -> float:
        if not (timestamp.isdigit() and len(timestamp) <= 12):
            raise Rejected(401, "bad_timestamp", f"{TIMESTAMP} is not a Unix time in seconds")
        return self._check_age(float(timestamp))

    def _check_created_at(self, shape: Shape, doc: dict[str, Any]) -> float:
        """Plaintext mode: no signature, so the push's own create time is all that dates it."""
        sent = created_at(shape, doc)
        if sent is None:
            raise Rejected(
                401,
                "bad_timestamp",
                "plaintext push without a usable header.create_time (2.0) or ts (1.0)",
            )
        return self._check_age(sent)

    def _check_age(self, sent: float) -> float:
        now = self.clock()
        if now - sent > self.ttl:
            raise Rejected(401, "stale", f"request timestamp is older than the {self.ttl} s replay window")
        if sent - now > MAX_CLOCK_SKEW_SECONDS:
            raise Rejected(401, "stale", "request timestamp is in the future")
        return sent

    def _decrypt(self, request: Request, doc: dict[str, Any]) -> tuple[dict[str, Any], float | None]:
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
            if classify(inner) is not Shape.CHALLENGE:
                raise missing
            return inner, None
        timestamp, nonce, given = signed
        expected = crypto.signature(timestamp, nonce, self.encrypt_key, request.body)
        if not crypto.same(expected, given.lower()):
            raise Rejected(401, "bad_signature", f"{SIGNATURE} does not match the body")
        sent = self._check_timestamp(timestamp)
        try:
            plain = crypto.decrypt(self.encrypt_key, encrypted)
        except crypto.DecryptError as exc:
            raise Rejected(400, "bad_encrypt", str(exc)) from None
        return load_json_object(plain, "decrypted body"), sent

    def _verify_legacy_card(self, request: Request) -> float:
        signed = self._signature_headers(request)
        if signed is None:
            raise Rejected(401, "missing_signature", f"card callbacks need {SIGNATURE}, timestamp and nonce")
        timestamp, nonce, given = signed
        expected = crypto.card_signature(timestamp, nonce, self.token, request.body)
        if not crypto.same(expected, given.lower()):
            raise Rejected(401, "bad_signature", f"{SIGNATURE} does not match the card callback")
        return self._check_timestamp(timestamp)

    def _check_token(self, doc: dict[str, Any]) -> None:
        given = push_token(doc)
        if given is None or not crypto.same(self.token, given):
            raise Rejected(401, "bad_token", "verification token is missing or wrong")

    # --- delivery ------------------------------------------------------------------------
    def _card(self, envelope: Envelope, expires_at: float) -> Reply:
        message = self._message(envelope)
        key, claim_id = DEDUPE_PREFIX + envelope.event_id, new_claim_id()
        if self._claim(key, claim_id, expires_at, envelope) is Claim.DUPLICATE:
            return Reply(200, {}, "duplicate")
        try:
            body = self.cards.reply(envelope)
        except Exception:
            # A broken card handler must not make Lark retry a click for hours: answer ``{}``.
            self.log.exception("card handler failed", extra={"event_type": envelope.event_type})
            body = {}
        # Queued too: worker handlers for card.action.trigger do what the 3 s reply cannot.
        self._enqueue(message, key, claim_id)
        self._confirm(key, claim_id)
        return Reply(200, body, "card")

    def _deliver(self, envelope: Envelope, expires_at: float, body: dict[str, Any], route: str) -> Reply:
        message = self._message(envelope)
        key, claim_id = DEDUPE_PREFIX + envelope.event_id, new_claim_id()
        if self._claim(key, claim_id, expires_at, envelope) is Claim.DUPLICATE:
            return Reply(200, SUCCESS, "duplicate")
        self._enqueue(message, key, claim_id)
        self._confirm(key, claim_id)
        return Reply(200, body, route)

    def _message(self, envelope: Envelope) -> str:
        """The queue message; checked before any claim, so a refusal leaves no record behind."""
        message = envelope.to_json()  # ASCII: always inside SQS's character set, and lossless
        if len(message) > MAX_MESSAGE_BYTES:
            raise Rejected(
                413,
                "too_large",
                f"push exceeds the queue's {MAX_MESSAGE_BYTES} byte message limit",
                event_id=envelope.event_id,
            )
        return message

    def _claim(self, key: str, claim_id: str, expires_at: float, envelope: Envelope) -> Claim:
        """``CLAIMED`` or ``DUPLICATE``; a claim held by another live request is a 409."""
        try:
            state = self.dedupe.claim(key, claim_id, expires_at)
        except DependencyError as exc:
            self.log.error("de-duplication store failed", extra={"error": str(exc)})
            raise Rejected(
                503, "dedupe_unavailable", "the event could not be recorded; retry later"
            ) from None
        if state is Claim.BUSY:
            raise Rejected(
                409,
                "in_progress",
                "another delivery of this event is being queued; retry later",
                event_id=envelope.event_id,
            )
        if state is Claim.DUPLICATE:
            self.emit("WebhookDuplicates", event_type=envelope.event_type)
            self.log.info("duplicate delivery acknowledged", extra={"event_type": envelope.event_type})
        return state

    def _enqueue(self, message: str, key: str, claim_id: str) -> None:
        try:
            self.queue.send(message)
        except DependencyError as exc:
            self.log.error("enqueue failed; claim released for Lark's retry", extra={"error": str(exc)})
            try:
                self.dedupe.release(key, claim_id)
            except DependencyError as failed:
                # The claim's short lease still lets Lark's retry through.
                self.log.error("release failed", extra={"error": str(failed)})
            raise Rejected(503, "queue_unavailable", "the event could not be queued; retry later") from None

    def _confirm(self, key: str, claim_id: str) -> None:
        try:
            self.dedupe.confirm(key, claim_id)
        except DependencyError as exc:
            # Queued already; an unconfirmed claim lapses after its lease, so a later retry may
            # queue the event again, which the worker's own idempotency absorbs.
            self.log.error("confirm failed", extra={"error": str(exc)})
