"""What a handler receives besides the envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lark_service.config import Settings
from lark_service.lark.client import LarkClient
from lark_service.tokens.store import TokenStore


@dataclass(slots=True)
class HandlerContext:
    """``lark`` calls the Open API as the app; ``tokens`` is the token table (app_ticket lives there)."""

    settings: Settings
    lark: LarkClient
    tokens: TokenStore
    lambda_context: Any = None

    @property
    def app_id(self) -> str:
        return self.settings.app_id
