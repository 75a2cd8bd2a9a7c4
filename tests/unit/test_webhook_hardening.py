"""Malformed and hostile requests, delivery rules and secrets, with pushes built by the test's own
oracle (``tests/lark_oracle.py``: hashlib and AES written from Lark's docs), in-memory stores."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from lark_service.config import ConfigError, load_settings
from lark_service.webhook.function_url import to_request
from lark_service.webhook.pipeline import Webhook
from lark_service.webhook.protocol import MAX_DEPTH, Reply, Request
from tests import lark_oracle as lark
from tests.unit.fakes import ListQueue, MemoryDedupe, Recorder

KEY = "hardening-encrypt-key"
TOKEN = "hardening-verification-token"
DAY = 24 * 3600
SQS_ALLOWED = re.compile("^[\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")
"""SQS SendMessage, MessageBody: "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD |
#x10000 to #x10FFFF. Any characters not included in this list will be rejected." (Amazon SQS API
Reference, SendMessage)."""


class Clock:
    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, *, encrypt_key: str | None = KEY, clock: Clock | None = None, **env: str) -> None:
        self.clock = clock or Clock()
        environ = {"LARK_VERIFICATION_TOKEN": TOKEN, **env}
        if encrypt_key:
            environ["LARK_ENCRYPT_KEY"] = encrypt_key
        self.dedupe = MemoryDedupe(clock=self.clock)
        self.queue = ListQueue()
        self.metrics = Recorder()
        self.correlation: list[str | None] = []
        self.webhook = Webhook(
            load_settings(environ),
            self.dedupe,
            self.queue,
            emit=self.metrics,
            clock=self.clock,
            correlate=self.correlation.append,
        )

    def post(self, headers: dict[str, str], body: bytes) -> Reply:
        return self.webhook.handle(Request.create("POST", "/lark/events", headers, body))

    def push(self, doc: dict[str, Any], *, now: float | None = None, spaced: bool = False) -> Reply:
        return self.post(*lark.signed_push(doc, KEY, now=self.clock() if now is None else now, spaced=spaced))

    def queued(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.queue.messages]


def test_the_oracle_matches_larks_published_sample() -> None:
    key, encrypted, plain = lark.LARK_SAMPLE
    assert lark.decrypt(key, encrypted) == plain


# --- issue 13: the Verification Token -------------------------------------------------------------
def test_a_push_without_a_token_is_refused_encrypted() -> None:
    rig = Rig()
    reply = rig.push(lark.event_v2("e1", token=None))
    assert (reply.status, reply.body["error"]) == (401, "bad_token")
    assert rig.queue.messages == []
    assert rig.dedupe.items == {}


def test_a_push_without_a_token_is_refused_in_plaintext_mode() -> None:
    rig = Rig(encrypt_key=None, LARK_ALLOW_PLAINTEXT="true")
    reply = rig.post({}, lark.dumps(lark.event_v2("e1", token=None), spaced=False))
    assert (reply.status, reply.body["error"]) == (401, "bad_token")
    assert rig.queue.messages == []


def test_the_webhook_does_not_start_without_a_token() -> None:
    with pytest.raises(ConfigError, match="LARK_VERIFICATION_TOKEN"):
        Webhook(load_settings({"LARK_ENCRYPT_KEY": KEY}), MemoryDedupe(), ListQueue())


# --- signatures over the bytes as sent -------------------------------------------------------------
@pytest.mark.parametrize("spaced", [False, True], ids=["compact", "spaced"])
def test_signature_covers_the_raw_bytes_compact_and_spaced(spaced: bool) -> None:
    rig = Rig()
    headers, body = lark.signed_push(lark.event_v2("e-" + str(spaced), TOKEN), KEY, spaced=spaced)
    assert rig.post(headers, body).status == 200
    respaced = lark.dumps(json.loads(body), spaced=not spaced)  # same JSON, other bytes
    assert rig.post(headers, respaced).body["error"] == "bad_signature"
    assert len(rig.queue.messages) == 1


def test_legacy_card_signature_is_sha1_over_the_raw_bytes() -> None:
    rig = Rig()
    doc = {
        "open_id": "ou_1",
        "open_message_id": "om_1",
        "tenant_key": "t",
        "token": "c-card-update-token",
        "action": {"value": {"action": "none"}, "tag": "button"},
    }
    for spaced in (False, True):
        body = lark.dumps(doc, spaced=spaced)
        ts, nonce = str(int(rig.clock())), f"nonce{spaced}"
        headers = {
            "x-lark-request-timestamp": ts,
            "x-lark-request-nonce": nonce,
            "x-lark-signature": lark.sign_card(ts, nonce, TOKEN, body),
        }
        assert rig.post(headers, body).status == 200
        headers["x-lark-signature"] = lark.sign_card(ts, nonce, "other", body)
        assert rig.post(headers, body).status == 401


# --- issue 8 item 2: every malformed request is a 4xx --------------------------------------------------
def _function_url(body: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "rawPath": "/lark/events",
        "requestContext": {"http": {"method": "POST", "path": "/lark/events"}},
        "headers": headers or {},
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000, "too_deep"),
        ('{"a":' * 100_000, "too_deep"),
        ('{"token": "\\ud800", "type": "url_verification", "challenge": "x"}', "bad_token"),
        # Raw: json.loads decodes bytes with surrogatepass, so it is a wrong token, not a crash.
        ('{"token": "\ud800", "type": "url_verification", "challenge": "x"}', "bad_token"),
        ('{"schema": "2.0", "header": {"token": "\\udfff"}}', "plaintext"),
        ("\udcff", "bad_json"),
        ('"\\ud800"', "bad_json"),
        ("1" * 5000, "bad_json"),  # beyond int's digit limit
    ],
)
def test_malformed_unauthenticated_bodies_are_4xx(body: str, reason: str) -> None:
    rig = Rig()
    reply = rig.webhook.answer(lambda: to_request(_function_url(body)))
    assert 400 <= reply.status < 500, reply
    assert reply.body["error"] in (reason, "too_deep"), reply.body
    json.loads(reply.json())  # the reply itself always encodes
    assert rig.queue.messages == []


@pytest.mark.parametrize("header", ["x-lark-request-timestamp", "x-lark-request-nonce", "x-lark-signature"])
@pytest.mark.parametrize("value", ["\ud800", "1\udfff", "\uff11\uff12\uff13", "é"])
def test_non_ascii_signature_headers_are_401(header: str, value: str) -> None:
    rig = Rig()
    headers, body = lark.signed_push(lark.event_v2("e1", TOKEN), KEY)
    reply = rig.webhook.answer(lambda: to_request(_function_url(body.decode(), {**headers, header: value})))
    assert reply.status == 401
    assert rig.queue.messages == []


def test_lone_surrogate_challenge_is_answered_as_received() -> None:
    rig = Rig()
    doc = {"type": "url_verification", "token": TOKEN, "challenge": "\ud83d"}
    body = json.dumps({"encrypt": lark.encrypt(KEY, json.dumps(doc).encode())}).encode()
    reply = rig.post({}, body)
    assert reply.status == 200
    assert json.loads(reply.json()) == {"challenge": "\ud83d"}


# --- issue 8 item 3: signed events that could never be queued --------------------------------------
def test_lone_surrogates_and_nonchars_are_queued_losslessly_within_sqs_characters() -> None:
    rig = Rig()
    text = "half \ud83d, nonchars \ufffe\uffff, control \x01, emoji \U0001f600, 中文"
    doc = lark.event_v2("e-odd", TOKEN, text=text)
    headers, body = lark.encrypted_request(json.dumps(doc).encode(), KEY, now=rig.clock())
    assert rig.post(headers, body).status == 200
    [message] = rig.queue.messages
    assert SQS_ALLOWED.match(message)
    queued = json.loads(message)["body"]
    assert json.loads(queued["event"]["message"]["content"]) == {"text": text}


def test_a_signed_event_nested_too_deep_is_refused_for_good_and_named() -> None:
    rig = Rig()
    doc = lark.event_v2("e-deep", TOKEN)
    nest: Any = "bottom"
    for _ in range(MAX_DEPTH + 5):
        nest = [nest]
    doc["event"]["deep"] = nest
    logged: list[dict[str, Any]] = []
    rig.webhook.log = _Log(logged)
    reply = rig.push(doc)
    assert (reply.status, reply.body["error"]) == (400, "too_deep")
    assert rig.queue.messages == []
    assert rig.dedupe.items == {}  # no claim left in progress
    assert rig.metrics.find("WebhookRequestsRejected") == [{"reason": "too_deep"}]
    assert logged[-1]["event_id"] == "e-deep"


def test_a_signed_event_nested_deeper_than_the_parser_allows_is_400() -> None:
    rig = Rig()
    plain = b'{"schema":"2.0","header":{"event_id":"e","token":"' + TOKEN.encode() + b'"},"x":' + b"[" * 5000
    plain += b"]" * 5000 + b"}"
    reply = rig.post(*lark.encrypted_request(plain, KEY, now=rig.clock()))
    assert (reply.status, reply.body["error"]) == (400, "too_deep")


@pytest.mark.parametrize("event_id", ["\ud800", "x" * 257])
def test_event_id_that_cannot_be_a_key_is_refused(event_id: str) -> None:
    rig = Rig()
    headers, body = lark.encrypted_request(json.dumps(lark.event_v2(event_id, TOKEN)).encode(), KEY)
    reply = rig.post(headers, body)
    assert (reply.status, reply.body["error"]) == (400, "bad_shape")
    assert rig.dedupe.items == {}


class _Log:
    def __init__(self, into: list[dict[str, Any]]) -> None:
        self.into = into

    def _record(self, message: str, extra: dict[str, Any] | None = None, **_: Any) -> None:
        self.into.append({"message": message, **(extra or {})})

    info = warning = error = exception = _record


# --- issue 8 item 4: no secret on the queue --------------------------------------------------------
def test_the_token_is_not_queued_but_the_card_update_token_is() -> None:
    rig = Rig()
    assert rig.push(lark.event_v2("e-tok", TOKEN)).status == 200
    v1 = {
        "uuid": "u-1",
        "token": TOKEN,
        "ts": f"{rig.clock():.6f}",
        "type": "event_callback",
        "event": {"type": "app_ticket", "app_id": "cli_x", "app_ticket": "t-1"},
    }
    assert rig.push(v1).status == 200
    assert len(rig.queue.messages) == 2
    for message in rig.queue.messages:
        assert TOKEN not in message
        assert KEY not in message
    assert rig.queued()[1]["body"]["event"]["app_ticket"] == "t-1"


# --- issue 8 item 1: 200 only when queued -------------------------------------------------------------
def test_a_copy_meeting_an_unfinished_claim_is_409_and_then_goes_through() -> None:
    rig = Rig()
    doc = lark.event_v2("e-busy", TOKEN)
    rig.dedupe.claim("webhook#e-busy", "another-request", rig.clock() + DAY)
    reply = rig.push(doc)
    assert (reply.status, reply.body["error"], reply.route) == (409, "in_progress", "in_progress")
    assert rig.queue.messages == []
    rig.clock.now += 15  # Lark's first retry comes after the other request's lease ran out
    assert rig.push(doc).status == 200
    assert len(rig.queue.messages) == 1
    assert rig.push(doc).route == "duplicate"
    assert len(rig.queue.messages) == 1


def test_a_failed_enqueue_releases_only_its_own_claim() -> None:
    rig = Rig()
    rig.queue.fail = True
    reply = rig.push(lark.event_v2("e-fail", TOKEN))
    assert reply.status == 503
    assert rig.dedupe.items == {}


# --- issue 8 item 5: the record outlives the replay window ---------------------------------------------
@pytest.mark.parametrize("skew", [-DAY + 10, 0, 299])
def test_the_record_outlives_every_replay_the_age_check_accepts(skew: float) -> None:
    rig = Rig()
    sent = rig.clock() + skew
    headers, body = lark.signed_push(lark.event_v2("e-replay", TOKEN), KEY, now=sent)
    assert rig.post(headers, body).status == 200
    expiration = rig.dedupe.items["webhook#e-replay"][3]
    assert expiration >= max(rig.clock(), int(sent)) + DAY
    # The last moment the age check accepts the replay: it must still meet the record.
    rig.clock.now = int(sent) + DAY
    assert rig.post(headers, body).route == "duplicate"
    rig.clock.now += 1
    assert rig.post(headers, body).body["error"] == "stale"
    assert len(rig.queue.messages) == 1


def test_plaintext_mode_must_be_chosen_explicitly() -> None:
    with pytest.raises(ConfigError, match="LARK_ALLOW_PLAINTEXT"):
        Rig(encrypt_key=None)
    logged: list[str] = []

    class Log:
        def warning(self, message: str, **_: Any) -> None:
            logged.append(message)

    Webhook(
        load_settings({"LARK_VERIFICATION_TOKEN": TOKEN, "LARK_ALLOW_PLAINTEXT": "true"}),
        MemoryDedupe(),
        ListQueue(),
        log=Log(),
    )
    assert any("plaintext mode" in line for line in logged)


def test_plaintext_mode_checks_the_create_time() -> None:
    rig = Rig(encrypt_key=None, LARK_ALLOW_PLAINTEXT="true")
    now = rig.clock()

    def send(doc: dict[str, Any]) -> Reply:
        return rig.post({}, lark.dumps(doc, spaced=True))

    assert send(lark.event_v2("fresh", TOKEN, created=now)).status == 200
    assert send(lark.event_v2("old", TOKEN, created=now - DAY - 1)).body["error"] == "stale"
    assert send(lark.event_v2("future", TOKEN, created=now + 301)).body["error"] == "stale"
    missing = lark.event_v2("missing", TOKEN)
    del missing["header"]["create_time"]
    assert send(missing).body["error"] == "bad_timestamp"
    v1 = {
        "uuid": "u",
        "token": TOKEN,
        "ts": "1502199207.7171419",
        "type": "event_callback",
        "event": {"type": "x"},
    }
    assert send(v1).body["error"] == "stale"
    assert [json.loads(m)["event_id"] for m in rig.queue.messages] == ["fresh"]
    assert rig.dedupe.items["webhook#fresh"][3] >= now + DAY


# --- issue 8 item 10 and the correlation id ----------------------------------------------------------
def test_health_probes_are_cached() -> None:
    class Counting(MemoryDedupe):
        probes = 0

        def check(self) -> None:
            Counting.probes += 1

    ticks = Clock(0.0)
    webhook = Webhook(
        load_settings({"LARK_VERIFICATION_TOKEN": TOKEN, "LARK_ENCRYPT_KEY": KEY}),
        Counting(),
        ListQueue(),
        monotonic=ticks,
    )
    for _ in range(200):
        assert webhook.handle(Request.create("GET", "/health", {}, b"")).status == 200
    assert Counting.probes == 1
    ticks.now += webhook.health_cache_seconds
    webhook.handle(Request.create("GET", "/health", {}, b""))
    assert Counting.probes == 2


def test_log_lines_after_verification_carry_the_event_id() -> None:
    rig = Rig()
    rig.push(lark.event_v2("e-corr", TOKEN))
    rig.post({}, b"{}")
    assert rig.correlation == [None, "e-corr", None]
