"""AWS clients tuned for a function that must answer within Lark's 3 s deadline.

Clients come straight from a botocore session: boto3's resource layer adds import time and
nothing the webhook uses, while configuration (region, credentials, ``AWS_ENDPOINT_URL``) is
botocore's either way. botocore is imported on first use, so a challenge or a rejected request
never pays for it, and clients share one session (one copy of the endpoint data in memory).
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_session: Any = None


def client(service: str) -> Any:
    """A cached low-level client; endpoints follow boto3's standard ``AWS_ENDPOINT_URL``."""
    global _session  # noqa: PLW0603 - one session per process, as boto3's default
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            # Deferred: ~100 ms that a challenge or a rejected request never needs.
            import botocore.session  # noqa: PLC0415
            from botocore.config import Config  # noqa: PLC0415

            if _session is None:
                _session = botocore.session.get_session()
            # Short timeouts and few retries (``max_attempts`` counts retries: 2 means up to three
            # attempts): a slow dependency must end in a 5xx that Lark retries, not in a reply
            # after Lark has given up. Retried writes are safe: see stores/dedupe.py.
            config = Config(
                connect_timeout=1, read_timeout=1.5, retries={"max_attempts": 2, "mode": "standard"}
            )
            _clients[service] = _session.create_client(service, config=config)
        return _clients[service]


def error_code(exc: Exception) -> str:
    """The AWS error code (or the exception's class) for messages that must not carry internals."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def reset_clients() -> None:
    """Forget cached clients (tests and the local runner switch endpoints between stacks)."""
    global _session  # noqa: PLW0603
    with _lock:
        _clients.clear()
        _session = None
