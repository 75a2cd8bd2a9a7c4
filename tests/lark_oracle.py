"""Lark's push format, written for the tests from Lark's documentation alone.

An oracle independent of ``lark_service.webhook.crypto``: a test that signs and encrypts with
the code under test cannot notice when that code is wrong. The formats, from Lark's docs
("Event subscription: encrypt key" and the official SDKs, e.g. larksuite/oapi-sdk-python
``lark_oapi/core/utils/decryptor.py`` and ``lark_oapi/event/dispatcher_handler.py``):

* ``encrypt = base64(IV(16) || AES-256-CBC(key = SHA-256(encrypt_key), PKCS#7(plaintext)))``;
  Lark's sample: key ``test key``, ``P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=`` → ``hello world``.
* ``X-Lark-Signature = hex(SHA-256(timestamp + nonce + encrypt_key + raw body bytes))``.
* Legacy card callbacks: ``hex(SHA-1(timestamp + nonce + verification_token + raw body))``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

LARK_SAMPLE = ("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", b"hello world")


def encrypt(key: str, plaintext: bytes, iv: bytes | None = None) -> str:
    iv = iv or os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    cipher = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + cipher.update(padded) + cipher.finalize()).decode()


def decrypt(key: str, encrypted: str) -> bytes:
    raw = base64.b64decode(encrypted)
    cipher = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(raw[:16])).decryptor()
    padded = cipher.update(raw[16:]) + cipher.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def sign(timestamp: str, nonce: str, key: str, body: bytes) -> str:
    return hashlib.sha256(timestamp.encode() + nonce.encode() + key.encode() + body).hexdigest()


def sign_card(timestamp: str, nonce: str, token: str, body: bytes) -> str:
    return hashlib.sha1(timestamp.encode() + nonce.encode() + token.encode() + body).hexdigest()


def event_v2(
    event_id: str | None = None,
    token: str | None = "token",
    *,
    event_type: str = "im.message.receive_v1",
    created: float | None = None,
    text: str = "hello",
) -> dict[str, Any]:
    """An ``im.message.receive_v1`` push laid out as Lark's event docs show it."""
    event_id = event_id or uuid.uuid4().hex
    header: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "create_time": str(int((time.time() if created is None else created) * 1000)),
        "tenant_key": "tenant-oracle",
        "app_id": "cli_oracle",
    }
    if token is not None:
        header["token"] = token
    return {
        "schema": "2.0",
        "header": header,
        "event": {
            "sender": {
                "sender_id": {"open_id": "ou_oracle"},
                "sender_type": "user",
                "tenant_key": "tenant-oracle",
            },
            "message": {
                "message_id": "om_" + event_id[:24],
                "chat_id": "oc_oracle",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": text}),
            },
        },
    }


def dumps(doc: Any, *, spaced: bool) -> bytes:
    """Compact (``{"a":1}``, as Lark sends) or spaced (``{"a": 1}``) JSON: the signature covers the
    bytes as sent, so both must verify and neither may be re-serialised before checking."""
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(doc, separators=separators, ensure_ascii=False).encode("utf-8", "surrogatepass")


def encrypted_request(
    plaintext: bytes, key: str, *, now: float | None = None, spaced: bool = False, nonce: str | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and raw body of an encrypted, signed push."""
    body = dumps({"encrypt": encrypt(key, plaintext)}, spaced=spaced)
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or uuid.uuid4().hex[:16]
    return {
        "content-type": "application/json",
        "x-lark-request-timestamp": timestamp,
        "x-lark-request-nonce": nonce,
        "x-lark-signature": sign(timestamp, nonce, key, body),
    }, body


def signed_push(
    doc: dict[str, Any], key: str, *, now: float | None = None, spaced: bool = False
) -> tuple[dict[str, str], bytes]:
    return encrypted_request(dumps(doc, spaced=spaced), key, now=now, spaced=spaced)
