"""The auth v3 endpoints: one method per documented call, no retries (the callers decide)."""

from __future__ import annotations

from dataclasses import dataclass

from lark_service.lark.errors import LarkTransientError
from lark_service.lark.transport import Transport

AUTH = "/open-apis/auth/v3/"
TENANT_INTERNAL = AUTH + "tenant_access_token/internal"
APP_INTERNAL = AUTH + "app_access_token/internal"
APP_MARKETPLACE = AUTH + "app_access_token"
TENANT_MARKETPLACE = AUTH + "tenant_access_token"
TICKET_RESEND = AUTH + "app_ticket/resend"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as Lark returned it: ``expire`` is the *remaining* lifetime in seconds."""

    token: str
    expire: int

    def __repr__(self) -> str:  # tokens never reach a log line, even through a repr
        return f"IssuedToken(token=<redacted>, expire={self.expire})"


class AuthApi:
    def __init__(self, transport: Transport, app_id: str, app_secret: str) -> None:
        self._transport = transport
        self.app_id = app_id
        self._app_secret = app_secret

    def _credentials(self) -> dict[str, str]:
        return {"app_id": self.app_id, "app_secret": self._app_secret}

    def _token(self, route: str, field: str, body: dict[str, str]) -> IssuedToken:
        answer = self._transport.call("POST", route, json=body)
        token, expire = answer.get(field), answer.get("expire")
        if not isinstance(token, str) or not token or type(expire) is not int or expire <= 0:
            # A success without a usable token is a broken answer, not a verdict: retry it.
            raise LarkTransientError(f"{route}: answer lacks a usable {field} or expire")
        return IssuedToken(token, expire)

    def tenant_token_internal(self) -> IssuedToken:
        return self._token(TENANT_INTERNAL, "tenant_access_token", self._credentials())

    def app_token_internal(self) -> IssuedToken:
        return self._token(APP_INTERNAL, "app_access_token", self._credentials())

    def app_token_marketplace(self, app_ticket: str) -> IssuedToken:
        return self._token(
            APP_MARKETPLACE, "app_access_token", {**self._credentials(), "app_ticket": app_ticket}
        )

    def tenant_token_marketplace(self, app_access_token: str, tenant_key: str) -> IssuedToken:
        body = {"app_access_token": app_access_token, "tenant_key": tenant_key}
        return self._token(TENANT_MARKETPLACE, "tenant_access_token", body)

    def resend_app_ticket(self) -> None:
        """Ask Lark to push a fresh app_ticket to the webhook (it arrives asynchronously)."""
        self._transport.call("POST", TICKET_RESEND, json=self._credentials())
