"""The token table's item keys, in one place so the refresher and the readers agree."""

from __future__ import annotations

from typing import Literal

TokenType = Literal["tenant_access_token", "app_access_token"]
TENANT: TokenType = "tenant_access_token"
APP: TokenType = "app_access_token"


def token_key(token_type: TokenType, app_id: str, tenant_key: str | None = None) -> str:
    """``tenant_access_token#<app_id>`` (self-built) or ``...#<app_id>#<tenant_key>`` (store apps)."""
    key = f"{token_type}#{app_id}"
    return f"{key}#{tenant_key}" if tenant_key else key


def tenant_prefix(app_id: str) -> str:
    return f"{TENANT}#{app_id}#"


def ticket_key(app_id: str) -> str:
    return f"app_ticket#{app_id}"


def lock_key(pk: str) -> str:
    return f"lock#{pk}"
