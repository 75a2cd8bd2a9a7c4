"""What can go wrong talking to Lark, sorted by what the caller should do about it.

Callers branch on these classes, not on codes: retry (``LarkTransientError``), wait or delay
(``LarkRateLimited``), refresh the token (``LarkInvalidToken``), ask for a new ticket
(``AppTicketInvalid``), or stop and tell a human (``CredentialsRejected``, ``LarkApiError``).
Every error Lark answered carries its log id (``x-tt-logid``): it is what Lark's support asks for.
"""

from __future__ import annotations

INVALID_TOKEN_CODES = frozenset({99991663, 99991664, 99991671})
# Rate limits that arrive as codes, at any HTTP status:
# 99991400 - the gateway's (频控策略 page: HTTP 429, or 400 on some older APIs);
# 230020 - im v1 per chat/user/card ("This operation triggers the frequency limit", HTTP 400);
# 11232 - the message service's tenant limit (named on the 频控策略 page);
# 232019 - im v1 chat APIs ("The request has been rate limited").
RATE_LIMIT_CODES = frozenset({99991400, 230020, 11232, 232019})
APP_TICKET_INVALID_CODE = 10012
CREDENTIAL_CODES = frozenset({10003, 10014})


class LarkError(Exception):
    """Base of every Lark failure."""


class LarkApiError(LarkError):
    """Lark answered with a non-zero code that retrying will not fix."""

    def __init__(self, endpoint: str, status: int, code: int, msg: str, *, log_id: str | None = None) -> None:
        where = f" (log_id {log_id})" if log_id else ""
        super().__init__(f"{endpoint}: HTTP {status}, code {code}: {msg}{where}")
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.msg = msg
        self.log_id = log_id


class LarkTransientError(LarkError):
    """A timeout, a broken connection or a 5xx: worth another try after a pause."""

    def __init__(self, message: str, *, log_id: str | None = None) -> None:
        super().__init__(f"{message} (log_id {log_id})" if log_id else message)
        self.log_id = log_id


class LarkRateLimited(LarkApiError):
    """Every rate-limit form: HTTP 429 (any code), or a rate-limit code at any status.

    ``reset_seconds`` comes from ``x-ogw-ratelimit-reset``; the per-chat limit (230020) sends
    no such header and its window is one second, so it defaults to 1.
    """

    def __init__(
        self,
        endpoint: str,
        status: int,
        code: int,
        msg: str,
        reset_seconds: float,
        *,
        log_id: str | None = None,
    ) -> None:
        super().__init__(endpoint, status, code, msg, log_id=log_id)
        self.reset_seconds = reset_seconds


class LarkInvalidToken(LarkApiError):
    """The access token was refused (99991663 / 99991664 / 99991671): refresh it and retry once."""


class CredentialsRejected(LarkApiError):
    """App id or secret is wrong: no retry can help, an operator must fix the secret."""


class AppTicketInvalid(LarkApiError):
    """Code 10012: the stored app_ticket is stale; Lark must push a new one (resend)."""
