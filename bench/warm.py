"""The webhook's warm path per event: verify + decrypt + parse, against the bare primitives.

``Webhook.verify`` (size, signature, AES, JSON, shape, token, envelope) per event, beside a plain
implementation of only the crypto and JSON steps (key derived per call, no shape checks): the
difference is the price of the checks. In this process (warm), best of three rounds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bench.report import Goal
from lark_service.config import load_settings
from lark_service.local.samples import Credentials, signed_request
from lark_service.stores.dedupe import Claim
from lark_service.webhook.pipeline import Webhook
from lark_service.webhook.protocol import Request

EVENTS = 20_000
CREDS = Credentials(verification_token="bench-token", encrypt_key="bench-encrypt-key")


class _NullDedupe:
    def claim(self, key: str, claim_id: str, expires_at: float) -> Claim:
        return Claim.CLAIMED

    def confirm(self, key: str, claim_id: str) -> None: ...

    def release(self, key: str, claim_id: str) -> None: ...

    def check(self) -> None: ...


class _NullQueue:
    def send(self, body: str) -> None: ...

    def check(self) -> None: ...


def bare_verify(request: Request, encrypt_key: str, token: str) -> dict[str, object]:
    """Only the primitives, written plainly: the floor the full verification is compared with."""
    headers = request.headers
    expected = hashlib.sha256(
        (headers["x-lark-request-timestamp"] + headers["x-lark-request-nonce"] + encrypt_key).encode()
        + request.body
    ).hexdigest()
    assert hmac.compare_digest(expected, headers["x-lark-signature"])
    raw = base64.b64decode(json.loads(request.body)["encrypt"])
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(decryptor.update(raw[16:]) + decryptor.finalize()) + unpadder.finalize()
    doc: dict[str, object] = json.loads(plain.decode())
    header = doc["header"]
    assert isinstance(header, dict)
    assert hmac.compare_digest(header["token"], token)
    return doc


def per_event_us(fn: Callable[[], object], n: int) -> float:
    for _ in range(200):
        fn()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def main() -> bool:
    settings = load_settings(
        {"LARK_ENCRYPT_KEY": CREDS.encrypt_key or "", "LARK_VERIFICATION_TOKEN": CREDS.verification_token}
    )
    webhook = Webhook(settings, _NullDedupe(), _NullQueue())
    headers, body = signed_request("message", CREDS, event_id="bench-warm")
    request = Request.create("POST", "/lark/events", headers, body)
    ours = per_event_us(lambda: webhook.verify(request), EVENTS)
    bare = per_event_us(
        lambda: bare_verify(request, CREDS.encrypt_key or "", CREDS.verification_token), EVENTS
    )
    full = per_event_us(lambda: webhook.handle(request), EVENTS // 4)
    print(f"\nwebhook warm, per event (best of 3 x {EVENTS}, this process)")
    print(f"  verify+decrypt+parse            {ours:8.1f} us")
    print(
        f"  baseline: bare crypto+JSON      {bare:8.1f} us   (checks and envelope add {ours - bare:+.1f} us)"
    )
    print(f"  whole pipeline, null stores     {full:8.1f} us")
    return Goal.print_all([Goal("warm verify+decrypt+parse", ours, "<=", 20, "us/event")])
