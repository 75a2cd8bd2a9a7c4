"""Sample Lark pushes of every shape, signed and encrypted the way Lark does it.

One generator feeds the ``tests/events/*.json`` fixtures (Function URL events usable with
``sam local invoke -e`` and ``lark-service invoke``), ``lark-service send-event`` and the tests,
so the samples cannot drift from the protocol code. Run ``python -m lark_service.local.samples``
to rewrite the fixtures, ``--check`` to fail when they are out of date.

The fixtures are deterministic (fixed timestamp, nonce and IV). Their timestamp is old, so the
webhook only accepts them with a long replay window: ``tests/events/env.json``, the one
``--env-vars`` file for them (``sam local invoke`` reads it through ``samconfig.toml``), sets one,
with the credentials they are signed with and an empty ``LARK_SECRET_ID``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lark_service.webhook import crypto

# The embedded defaults of ``lark-service dev``: printed at start, never used outside a laptop.
LOCAL_APP_ID = "cli_local0000000000"
LOCAL_APP_SECRET = "local-app-secret"  # noqa: S105 - a documented local default
LOCAL_ENCRYPT_KEY = "local-encrypt-key"
LOCAL_VERIFICATION_TOKEN = "local-verification-token"  # noqa: S105 - a documented local default
LOCAL_TENANT_KEY = "local-tenant"

FIXTURE_TIMESTAMP = 1767225600  # 2026-01-01T00:00:00Z
FIXTURE_TTL_SECONDS = 20 * 365 * 24 * 3600
"""Replay window that keeps the fixed-timestamp fixtures acceptable (set in tests/events/env.json)."""

KINDS = ("url_verification", "message", "app_ticket", "card", "card_legacy", "unknown")


@dataclass(frozen=True)
class Credentials:
    verification_token: str = LOCAL_VERIFICATION_TOKEN
    encrypt_key: str | None = LOCAL_ENCRYPT_KEY
    app_id: str = LOCAL_APP_ID


def push(
    kind: str,
    creds: Credentials,
    *,
    event_id: str | None = None,
    now: float | None = None,
    text: str = "hello",
) -> dict[str, Any]:
    """The plaintext JSON of one push, as Lark's documentation shows each shape."""
    now = time.time() if now is None else now
    event_id = event_id or uuid.uuid4().hex
    token = creds.verification_token
    if kind == "url_verification":
        return {"challenge": f"challenge-{event_id[:12]}", "token": token, "type": "url_verification"}
    if kind in ("message", "unknown", "card"):
        event_type = {
            "message": "im.message.receive_v1",
            "unknown": "contact.user.created_v3",
            "card": "card.action.trigger",
        }[kind]
        header = {
            "event_id": event_id,
            "token": token,
            "create_time": str(int(now * 1000)),
            "event_type": event_type,
            "tenant_key": LOCAL_TENANT_KEY,
            "app_id": creds.app_id,
        }
        return {"schema": "2.0", "header": header, "event": _event_body(kind, event_id, text)}
    if kind == "app_ticket":
        return app_ticket_push(creds.app_id, f"ticket-{event_id[:8]}", token, event_id=event_id, now=now)
    if kind == "card_legacy":
        return {
            "open_id": "ou_local_user",
            "user_id": "local_user",
            "open_message_id": f"om_{event_id[:16]}",
            "open_chat_id": "oc_local_chat",
            "tenant_key": LOCAL_TENANT_KEY,
            "token": f"c-{event_id[:16]}",
            "action": {"value": {"action": "demo_toast"}, "tag": "button"},
        }
    raise ValueError(f"unknown sample kind {kind!r}; choose one of {', '.join(KINDS)}")


def _event_body(kind: str, event_id: str, text: str = "hello") -> dict[str, Any]:
    if kind == "message":
        return {
            "sender": {
                "sender_id": {
                    "open_id": "ou_local_user",
                    "user_id": "local_user",
                    "union_id": "on_local_user",
                },
                "sender_type": "user",
                "tenant_key": LOCAL_TENANT_KEY,
            },
            "message": {
                "message_id": f"om_{event_id[:16]}",
                "chat_id": "oc_local_chat",
                "chat_type": "p2p",
                "message_type": "text",
                "content": json.dumps({"text": text}),
                "create_time": "1767225600000",
            },
        }
    if kind == "card":
        return {
            "operator": {"open_id": "ou_local_user", "user_id": "local_user", "tenant_key": LOCAL_TENANT_KEY},
            "token": f"c-{event_id[:16]}",
            "action": {"value": {"action": "demo_toast"}, "tag": "button"},
            "context": {"open_message_id": f"om_{event_id[:16]}", "open_chat_id": "oc_local_chat"},
        }
    return {"user_id": "local_user", "name": "Local User"}


def app_ticket_push(
    app_id: str, ticket: str, verification_token: str, *, event_id: str, now: float
) -> dict[str, Any]:
    """The schema 1.0 ``app_ticket`` push Lark sends a store app hourly and after a resend."""
    return {
        "uuid": event_id,
        "token": verification_token,
        "ts": f"{now:.6f}",
        "type": "event_callback",
        "event": {"app_id": app_id, "app_ticket": ticket, "type": "app_ticket"},
    }


def signed_request(
    kind: str,
    creds: Credentials,
    *,
    event_id: str | None = None,
    now: float | None = None,
    nonce: str | None = None,
    iv: bytes | None = None,
    text: str = "hello",
) -> tuple[dict[str, str], bytes]:
    """Headers and raw body of a push as Lark would POST it.

    With an Encrypt Key the body is ``{"encrypt": ...}`` and signed with SHA-256; the URL
    challenge is encrypted but unsigned, as Lark sends it. Legacy card callbacks are plaintext
    and signed with SHA-1 over the Verification Token.
    """
    now = time.time() if now is None else now
    doc = push(kind, creds, event_id=event_id, now=now, text=text)
    plain = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return sign(plain, creds, kind=kind, now=now, nonce=nonce, iv=iv)


def sign(
    plain: bytes,
    creds: Credentials,
    *,
    kind: str = "message",
    now: float | None = None,
    nonce: str | None = None,
    iv: bytes | None = None,
) -> tuple[dict[str, str], bytes]:
    """Encrypt and sign a push's JSON as Lark does: the one place outside the webhook that does.

    The sandbox's own pushes and ``send-event`` come through here, and both use the webhook's
    ``crypto`` primitives, so there is one implementation of Lark's scheme in the project (the
    tests check it against an independent one and Lark's published sample).
    """
    now = time.time() if now is None else now
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": "Go-http-client/1.1"}
    timestamp = str(int(now))
    nonce = nonce or uuid.uuid4().hex[:16]
    if kind == "card_legacy":
        body = plain
        signature = crypto.card_signature(timestamp, nonce, creds.verification_token, body)
    elif creds.encrypt_key:
        body = json.dumps({"encrypt": crypto.encrypt(creds.encrypt_key, plain, iv)}).encode("utf-8")
        if kind == "url_verification":
            return headers, body
        signature = crypto.signature(timestamp, nonce, creds.encrypt_key, body)
    else:
        return headers, plain
    headers.update(
        {"x-lark-request-timestamp": timestamp, "x-lark-request-nonce": nonce, "x-lark-signature": signature}
    )
    return headers, body


def function_url_event(
    method: str, path: str, headers: dict[str, str], body: bytes, *, base64_body: bool = False
) -> dict[str, Any]:
    """A Lambda Function URL (payload 2.0) event, as ``sam local generate-event`` shapes it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": "local.lambda-url.us-east-1.on.aws",
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", "lark-service"),
            },
            "requestId": "local-request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": FIXTURE_TIMESTAMP * 1000,
        },
        "body": base64.b64encode(body).decode("ascii") if base64_body else body.decode("utf-8"),
        "isBase64Encoded": base64_body,
    }


def fixtures(creds: Credentials | None = None) -> dict[str, dict[str, Any]]:
    """Every fixture by file name: deterministic, so a test can tell when one drifts."""
    creds = creds or Credentials()
    out: dict[str, dict[str, Any]] = {}

    def build(kind: str, name: str, *, creds_: Credentials = creds, base64_body: bool = False) -> None:
        seed = hashlib.sha256(name.encode()).hexdigest()
        headers, body = signed_request(
            kind,
            creds_,
            event_id=seed[:32],
            now=FIXTURE_TIMESTAMP,
            nonce=seed[32:48],
            iv=bytes.fromhex(seed[:32]),
        )
        out[name] = function_url_event("POST", "/lark/events", headers, body, base64_body=base64_body)

    build("url_verification", "url_verification")
    build("url_verification", "url_verification_plain", creds_=Credentials(encrypt_key=None))
    build("message", "event_v2_message")
    build("message", "event_v2_message_base64", base64_body=True)
    build("unknown", "event_v2_unknown_type")
    build("app_ticket", "event_v1_app_ticket")
    build("card", "card_action_trigger")
    build("card_legacy", "card_legacy")
    out["health"] = function_url_event("GET", "/health", {"user-agent": "curl/8"}, b"")
    return out


def env_vars(creds: Credentials | None = None) -> dict[str, dict[str, str]]:
    """``--env-vars`` for the fixtures, in SAM's format (per logical id, plus ``Parameters``).

    Only what makes the fixtures valid: their credentials, no secret to look up, and the webhook's
    replay window. Endpoints and resource names stay out, so the shell (SAM gives a declared
    variable the shell's value when this file does not set it) or ``--local-aws`` supplies them.
    """
    creds = creds or Credentials()
    return {
        "Parameters": {
            "LARK_SECRET_ID": "",
            "LARK_APP_ID": creds.app_id,
            "LARK_APP_SECRET": LOCAL_APP_SECRET,
            "LARK_ENCRYPT_KEY": creds.encrypt_key or "",
            "LARK_VERIFICATION_TOKEN": creds.verification_token,
            "LARK_DEMO_HANDLERS": "true",
        },
        "WebhookFunction": {"LARK_DEDUPE_TTL_SECONDS": str(FIXTURE_TTL_SECONDS)},
    }


def render(directory: Path) -> dict[Path, str]:
    files = {
        directory / f"{name}.json": json.dumps(event, indent=2) + "\n" for name, event in fixtures().items()
    }
    files[directory / "env.json"] = json.dumps(env_vars(), indent=2) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write (or --check) the webhook's event fixtures")
    parser.add_argument("--dir", type=Path, default=Path("tests/events"))
    parser.add_argument("--check", action="store_true", help="fail when a fixture differs from the generator")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render(args.dir).items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print("out of date (run python -m lark_service.local.samples):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
