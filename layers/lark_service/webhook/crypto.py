"""Lark's push cryptography: AES-256-CBC bodies and SHA-256 / SHA-1 request signatures.

The formats are fixed by Lark (docs/webhook.md): the key is SHA-256 of the
Encrypt Key, the IV is the first 16 bytes, PKCS#7 padding; signatures are plain digests over the
*raw* body bytes (not HMAC), so the body must never be re-serialised before checking them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16


class DecryptError(ValueError):
    """The ``encrypt`` field cannot be decrypted; the message says which step failed."""


@lru_cache(maxsize=8)
def _aes_key(encrypt_key: str) -> bytes:
    # Cached: the key is the same for every push, and a warm event should only pay for AES.
    return hashlib.sha256(encrypt_key.encode("utf-8")).digest()


def decrypt(encrypt_key: str, encrypted: str) -> bytes:
    """Decrypt an ``encrypt`` field into the plaintext bytes (normally JSON)."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("encrypt is not valid base64") from None
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise DecryptError("encrypt has the wrong length for AES-256-CBC (IV plus whole blocks)")
    decryptor = Cipher(algorithms.AES(_aes_key(encrypt_key)), modes.CBC(raw[:BLOCK])).decryptor()
    padded = decryptor.update(raw[BLOCK:]) + decryptor.finalize()
    pad = padded[-1]
    # Checked by hand rather than through a padding object: one comparison, no extra allocation.
    if not 1 <= pad <= BLOCK or padded[-pad:] != bytes([pad]) * pad:
        raise DecryptError("encrypt has bad padding (wrong Encrypt Key?)")
    return padded[:-pad]


def encrypt(encrypt_key: str, plaintext: bytes, iv: bytes | None = None) -> str:
    """Encrypt as Lark does; used to build samples and by ``send-event``, never on the ack path."""
    iv = os.urandom(BLOCK) if iv is None else iv
    pad = BLOCK - len(plaintext) % BLOCK
    encryptor = Cipher(algorithms.AES(_aes_key(encrypt_key)), modes.CBC(iv)).encryptor()
    body = encryptor.update(plaintext + bytes([pad]) * pad) + encryptor.finalize()
    return base64.b64encode(iv + body).decode("ascii")


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """``X-Lark-Signature`` of an event push: hex SHA-256 over timestamp, nonce, key and raw body."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


def card_signature(timestamp: str, nonce: str, verification_token: str, body: bytes) -> str:
    """``X-Lark-Signature`` of a legacy message-card callback: hex SHA-1 with the Verification Token."""
    return hashlib.sha1((timestamp + nonce + verification_token).encode("utf-8") + body).hexdigest()  # noqa: S324 - Lark's format


def same(expected: str, given: str) -> bool:
    """Constant-time comparison, so a forger cannot learn a signature or token byte by byte."""
    # ``surrogatepass``: a lone surrogate sent in a token must compare unequal, not crash.
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )
