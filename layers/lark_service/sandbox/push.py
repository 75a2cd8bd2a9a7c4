"""Pushing events the way Lark does: schema 1.0 ``app_ticket`` to the app's event URL.

Lark sends a store app its ``app_ticket`` every hour and again after a resend request; the
sandbox does the same when it is given the webhook's URL, encrypted and signed when an Encrypt
Key is configured, so the whole marketplace loop runs locally.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import threading
import time
import urllib.request
from typing import Any

logger = logging.getLogger(__name__)


def encrypt(plaintext: bytes, encrypt_key: str) -> str:
    """``base64(IV || AES-256-CBC(SHA-256(key), PKCS#7(plaintext)))``, as Lark encrypts pushes."""
    from cryptography.hazmat.primitives import padding  # noqa: PLC0415
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: PLC0415

    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def app_ticket_event(app_id: str, ticket: str, verification_token: str) -> dict[str, Any]:
    return {
        "uuid": secrets.token_hex(16),
        "token": verification_token,
        "ts": f"{time.time():.6f}",
        "type": "event_callback",
        "event": {"app_id": app_id, "app_ticket": ticket, "type": "app_ticket"},
    }


def signed_request(url: str, payload: dict[str, Any], encrypt_key: str | None) -> urllib.request.Request:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if encrypt_key:
        body = json.dumps({"encrypt": encrypt(body, encrypt_key)}).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        signature = hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()
        headers |= {
            "X-Lark-Request-Timestamp": timestamp,
            "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": signature,
        }
    return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310


def push_in_background(request: urllib.request.Request, delay: float = 0.2) -> threading.Thread:
    """Deliver after the API call that caused it has been answered, as Lark does."""

    def deliver() -> None:
        time.sleep(delay)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - configured URL
                logger.info("pushed app_ticket: HTTP %s", response.status)
        except OSError as exc:
            logger.warning("could not push app_ticket: %s", type(exc).__name__)

    thread = threading.Thread(target=deliver, name="sandbox-push", daemon=True)
    thread.start()
    return thread
