"""The webhook's security rules, with requests built the way Lark builds them, not by the project.

Bodies are encrypted by ``sdk_encrypt`` (the inverse of the Python SDK's ``AESCipher``,
larksuite/oapi-sdk-python ``lark_oapi/core/utils/decryptor.py``) and signed with ``hashlib`` here,
as the SDKs verify them (``lark_oapi/event/dispatcher_handler.py`` ``_verify_sign``; oapi-sdk-go
``card/card.go`` ``Signature`` for the legacy SHA-1 card signature). Outer bodies come in compact
and spaced spellings, because Lark signs the bytes it sends. The Go SDK's own encrypted
``url_verification`` vector (``event/dispatcher/dispatcher_test.go``, ``TestDecryptEvent``) is
sent as it is. Each refusal is checked on the queue and the de-duplication records too, not
only on the status code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from lark_service.config import load_settings
from lark_service.envelope import Envelope
from lark_service.webhook.pipeline import Webhook
from lark_service.webhook.protocol import Reply, Request
from tests.unit.fakes import ListQueue, MemoryDedupe
from tests.unit.test_oracles_crypto import GO_SDK_ENCRYPTED, GO_SDK_KEY

NOW = 1_700_000_000
KEY = "oracle-encrypt-key"
TOKEN = "oracle-verification-token"


class Rig:
    def __init__(self, encrypt_key: str | None = KEY, token: str | None = TOKEN) -> None:
        env = {"LARK_ENCRYPT_KEY": encrypt_key or "", "LARK_VERIFICATION_TOKEN": token or ""}
        if encrypt_key is None:
            env["LARK_ALLOW_PLAINTEXT"] = "true"  # plaintext mode is opt-in
        self.dedupe = MemoryDedupe(clock=lambda: float(NOW))
        self.queue = ListQueue()
        self.webhook = Webhook(load_settings(env), self.dedupe, self.queue, clock=lambda: float(NOW))

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        return self.webhook.handle(Request.create("POST", "/lark/events", headers or {}, body))

    def queued(self) -> list[Envelope]:
        return [Envelope.from_json(m) for m in self.queue.messages]


def sdk_encrypt(key: str, plaintext: bytes) -> str:
    """base64(IV || AES-256-CBC(SHA-256(key), PKCS#7(plaintext))): what ``AESCipher`` undoes."""
    iv = os.urandom(16)
    pad = 16 - len(plaintext) % 16
    encryptor = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv)).encryptor()
    return base64.b64encode(
        iv + encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
    ).decode()


def lark_headers(
    body: bytes, secret: str = KEY, timestamp: int = NOW, sha: Any = hashlib.sha256
) -> dict[str, str]:
    """Lark's signature headers, in the mixed case a non-Function-URL front end might pass on."""
    nonce = "oracle-nonce"
    digest = sha(f"{timestamp}{nonce}{secret}".encode() + body).hexdigest()
    return {
        "X-Lark-Request-Timestamp": str(timestamp),
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": digest,
    }


def event_v2(event_id: str = "ev-oracle-1", token: str | None = TOKEN) -> dict[str, Any]:
    header: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "im.message.receive_v1",
        "create_time": "1700000000000",
        "tenant_key": "tenant-1",
        "app_id": "cli_oracle",
    }
    if token is not None:
        header["token"] = token
    return {"schema": "2.0", "header": header, "event": {"message": {"message_id": "om_1"}}}


SPELLINGS = {
    "compact": lambda doc: json.dumps(doc, separators=(",", ":")).encode(),
    "spaced": lambda doc: json.dumps(doc, indent=2).encode(),
}


def encrypted_body(doc: dict[str, Any], spelling: str, key: str = KEY) -> bytes:
    inner = json.dumps(doc, ensure_ascii=False).encode()
    return SPELLINGS[spelling]({"encrypt": sdk_encrypt(key, inner)})


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_push_signed_over_its_raw_bytes_is_queued_once(spelling: str) -> None:
    rig = Rig()
    body = encrypted_body(event_v2(), spelling)
    reply = rig.post(body, lark_headers(body))
    assert (reply.status, reply.body) == (200, {"msg": "success"})
    [envelope] = rig.queued()
    assert (envelope.event_id, envelope.event_type, envelope.schema) == (
        "ev-oracle-1",
        "im.message.receive_v1",
        "2.0",
    )
    assert envelope.tenant_key == "tenant-1"
    assert rig.dedupe.records == {"webhook#ev-oracle-1": "COMPLETED"}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_signature_over_a_re_serialised_body_is_refused(spelling: str) -> None:
    """The sender signed other bytes than it sent: same document, other spelling."""
    rig = Rig()
    body = encrypted_body(event_v2(), spelling)
    other = json.dumps(json.loads(body)).encode()
    assert other != body
    reply = rig.post(body, lark_headers(other))
    assert (reply.status, reply.body["error"]) == (401, "bad_signature")
    assert rig.queue.messages == []
    assert rig.dedupe.records == {}


def test_a_signature_with_another_key_is_refused() -> None:
    rig = Rig()
    body = encrypted_body(event_v2(), "compact")
    reply = rig.post(body, lark_headers(body, secret="another key"))
    assert (reply.status, reply.body["error"]) == (401, "bad_signature")
    assert rig.queue.messages == []


def test_the_go_sdk_url_verification_vector_is_answered_unsigned() -> None:
    """Lark sends the challenge without signature headers; the token inside is ``v``."""
    rig = Rig(encrypt_key=GO_SDK_KEY, token="v")
    reply = rig.post(json.dumps({"encrypt": GO_SDK_ENCRYPTED}).encode())
    assert (reply.status, reply.body) == (200, {"challenge": "1212"})
    assert rig.queue.messages == []
    assert rig.dedupe.records == {}


def test_the_go_sdk_vector_with_another_token_configured_is_refused() -> None:
    rig = Rig(encrypt_key=GO_SDK_KEY, token="not-v")
    reply = rig.post(json.dumps({"encrypt": GO_SDK_ENCRYPTED}).encode())
    assert (reply.status, reply.body["error"]) == (401, "bad_token")


def test_an_unsigned_encrypted_event_is_refused() -> None:
    rig = Rig()
    reply = rig.post(encrypted_body(event_v2(), "compact"))
    assert (reply.status, reply.body["error"]) == (401, "missing_signature")
    assert rig.queue.messages == []
    assert rig.dedupe.records == {}


@pytest.mark.parametrize("token", [None, "", "wrong-token"], ids=["absent", "empty", "wrong"])
def test_an_encrypted_signed_push_without_the_token_is_refused(token: str | None) -> None:
    rig = Rig()
    doc = event_v2(token=None)
    if token is not None:
        doc["header"]["token"] = token
    body = encrypted_body(doc, "compact")
    reply = rig.post(body, lark_headers(body))
    assert (reply.status, reply.body["error"]) == (401, "bad_token")
    assert rig.queue.messages == []
    assert rig.dedupe.records == {}


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["absent", "wrong"])
def test_a_plaintext_push_without_the_token_is_refused(token: str | None) -> None:
    """No Encrypt Key configured: the Verification Token is the only proof, so it is required."""
    rig = Rig(encrypt_key=None)
    reply = rig.post(SPELLINGS["compact"](event_v2(token=token)))
    assert (reply.status, reply.body["error"]) == (401, "bad_token")
    assert rig.queue.messages == []
    assert rig.dedupe.records == {}


def test_a_plaintext_push_with_the_token_is_queued() -> None:
    rig = Rig(encrypt_key=None)
    assert rig.post(SPELLINGS["spaced"](event_v2())).status == 200
    assert [e.event_id for e in rig.queued()] == ["ev-oracle-1"]


def test_a_v1_push_carries_its_token_at_the_top() -> None:
    rig = Rig(encrypt_key=None)
    # The 1.0 layout of Lark's docs: ``ts`` is seconds with a fraction, as a string.
    doc = {
        "ts": f"{NOW}.7171419",
        "uuid": "u-1",
        "token": TOKEN,
        "type": "event_callback",
        "event": {"type": "app_ticket"},
    }
    assert rig.post(SPELLINGS["compact"](doc)).status == 200
    [envelope] = rig.queued()
    assert (envelope.event_id, envelope.schema, envelope.event_type) == ("u-1", "1.0", "app_ticket")
    doc["token"] = "wrong"
    doc["uuid"] = "u-2"
    assert rig.post(SPELLINGS["compact"](doc)).status == 401
    assert len(rig.queue.messages) == 1


@pytest.mark.parametrize(
    ("timestamp", "accepted"),
    [
        (NOW, True),
        (NOW - 24 * 3600, True),  # the edge of the replay window (the de-duplication TTL)
        (NOW - 24 * 3600 - 1, False),
        (NOW + 300, True),  # clock skew allowed
        (NOW + 301, False),
    ],
)
def test_the_signed_timestamp_bounds_replays(timestamp: int, accepted: bool) -> None:
    rig = Rig()
    body = encrypted_body(event_v2(), "compact")
    reply = rig.post(body, lark_headers(body, timestamp=timestamp))
    if accepted:
        assert reply.status == 200
        assert len(rig.queue.messages) == 1
    else:
        assert (reply.status, reply.body["error"]) == (401, "stale")
        assert rig.queue.messages == []


def test_a_replayed_push_is_queued_once() -> None:
    rig = Rig()
    body = encrypted_body(event_v2(), "compact")
    headers = lark_headers(body)
    assert rig.post(body, headers).status == 200
    assert rig.post(body, headers).status == 200
    assert len(rig.queue.messages) == 1


LEGACY_CARD = {
    "open_id": "ou_sdfimx9948345",
    "user_id": "eu_sd923r0sdf5",
    "open_message_id": "om_abcdefg1234567890",
    "tenant_key": "d32004232",
    "token": TOKEN,
    "action": {"value": {"value": "sdfsfd"}, "tag": "button"},
}
"""The card action oapi-sdk-go's ``card/card_test.go`` ``mockEventReq`` builds."""


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_legacy_card_signed_with_sha1_and_the_token_is_answered(spelling: str) -> None:
    rig = Rig()
    body = SPELLINGS[spelling](LEGACY_CARD)
    reply = rig.post(body, lark_headers(body, secret=TOKEN, sha=hashlib.sha1))
    assert reply.status == 200
    assert reply.route == "card"
    assert rig.dedupe.records == {"webhook#card1-" + hashlib.sha256(body).hexdigest()[:40]: "COMPLETED"}


def test_a_legacy_card_signed_with_sha256_or_the_encrypt_key_is_refused() -> None:
    rig = Rig()
    body = SPELLINGS["compact"](LEGACY_CARD)
    for headers in (
        lark_headers(body, secret=TOKEN, sha=hashlib.sha256),
        lark_headers(body, secret=KEY, sha=hashlib.sha1),
    ):
        reply = rig.post(body, headers)
        assert (reply.status, reply.body["error"]) == (401, "bad_signature")
    unsigned = rig.post(body)
    assert (unsigned.status, unsigned.body["error"]) == (401, "missing_signature")
    assert rig.dedupe.records == {}
