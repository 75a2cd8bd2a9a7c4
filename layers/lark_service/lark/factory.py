"""Building the Lark side of a function from its settings, once per cold start.

Nothing here touches the network: the HTTP pool connects on first use and the DynamoDB client is
created on first use, so a function that never calls Lark pays nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark_service.config import Settings
from lark_service.lark.auth import AuthApi
from lark_service.lark.client import LarkClient
from lark_service.lark.transport import Transport, default_timeout
from lark_service.tokens.provider import TokenProvider
from lark_service.tokens.refresher import TokenRefresher
from lark_service.tokens.retry import RetryPolicy
from lark_service.tokens.store import TokenStore
from lark_service.tokens.tuning import TokenTuning, load_tuning


@dataclass(frozen=True, slots=True)
class LarkServices:
    store: TokenStore
    refresher: TokenRefresher
    tokens: TokenProvider
    client: LarkClient


def build_services(settings: Settings, tuning: TokenTuning | None = None) -> LarkServices:
    tuning = tuning or load_tuning()
    transport = Transport(settings.base_url, timeout=default_timeout(tuning.http_timeout))
    auth = AuthApi(transport, settings.require("app_id"), settings.require("app_secret"))
    store = TokenStore(settings.require("token_table"))
    refresher = TokenRefresher(
        app_type=settings.app_type,
        auth=auth,
        store=store,
        policy=RetryPolicy(tuning.retry_base, tuning.retry_cap, tuning.retry_attempts),
        app_token_margin=tuning.refresh_margin,
    )
    tokens = TokenProvider(store, refresher, app_type=settings.app_type, tuning=tuning)
    client = LarkClient(transport, tokens, rate_limit_max_wait=tuning.rate_limit_max_wait)
    return LarkServices(store, refresher, tokens, client)
