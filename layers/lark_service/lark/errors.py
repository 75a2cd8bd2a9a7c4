"""What can go wrong talking to Lark, sorted by what the caller should do about it.

Callers branch on these classes, not on codes: retry (``LarkTransientError``), wait
(``LarkRateLimited``), refresh the token (``LarkInvalidToken``), ask for a new ticket
(``AppTicketInvalid``), or stop and tell a human (``CredentialsRejected``, ``LarkApiError``).
"""

from __future__ import annotations

INVALID_TOKEN_CODES = frozenset({99991663, 99991664, 99991671})
RATE_LIMIT_CODE = 99991400
APP_TICKET_INVALID_CODE = 10012
CREDENTIAL_CODES = frozenset({10003, 10014})


class LarkError(Exception):
    """Base of every Lark failure."""


class LarkApiError(LarkError):
    """Lark answered with a non-zero code that retrying will not fix."""

    def __init__(self, endpoint: str, status: int, code: int, msg: str) -> None:
        super().__init__(f"{endpoint}: HTTP {status}, code {code}: {msg}")
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.msg = msg


class LarkTransientError(LarkError):
    """A timeout, a broken connection or a 5xx: worth another try after a pause."""


class LarkRateLimited(LarkApiError):
    """HTTP 429 or code 99991400; ``reset_seconds`` comes from ``x-ogw-ratelimit-reset``."""

    def __init__(self, endpoint: str, status: int, code: int, msg: str, reset_seconds: float) -> None:
        super().__init__(endpoint, status, code, msg)
        self.reset_seconds = reset_seconds


class LarkInvalidToken(LarkApiError):
    """The access token was refused (99991663 / 99991664 / 99991671): refresh it and retry once."""


class CredentialsRejected(LarkApiError):
    """App id or secret is wrong: no retry can help, an operator must fix the secret."""


class AppTicketInvalid(LarkApiError):
    """Code 10012: the stored app_ticket is stale; Lark must push a new one (resend)."""
