"""Pushing events the way Lark does: schema 1.0 ``app_ticket`` to the app's event URL.

Lark sends a store app its ``app_ticket`` every hour and again after a resend request; the
sandbox does the same when it is given the webhook's URL, encrypted and signed when an Encrypt
Key is configured, so the whole marketplace loop runs locally.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import urllib.request
from typing import Any

from lark_service.local.samples import Credentials, app_ticket_push, sign

logger = logging.getLogger(__name__)


def app_ticket_event(app_id: str, ticket: str, verification_token: str) -> dict[str, Any]:
    return app_ticket_push(
        app_id, ticket, verification_token, event_id=secrets.token_hex(16), now=time.time()
    )


def signed_request(url: str, payload: dict[str, Any], encrypt_key: str | None) -> urllib.request.Request:
    """The push as an HTTP request, encrypted and signed by the project's one implementation."""
    plain = json.dumps(payload).encode()
    headers, body = sign(plain, Credentials(str(payload.get("token", "")), encrypt_key or None))
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
