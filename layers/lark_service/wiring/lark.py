"""The Lark side of the worker, the token refresh and the alert notifier.

The Lark services' builder: it sits
above both ``lark`` (the HTTP protocol) and ``tokens`` (which uses it), so neither imports the
other's builder and the layers stay acyclic (``tests/unit/test_import_rules.py``).

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
from lark_service.tokens.store import TokenStore
from lark_service.tokens.tuning import TokenTuning, load_tuning


@dataclass(frozen=True, slots=True)
class LarkServices:
    store: TokenStore
    refresher: TokenRefresher
    tokens: TokenProvider
    client: LarkClient
    tuning: TokenTuning


def build_services(settings: Settings, tuning: TokenTuning | None = None) -> LarkServices:
    tuning = tuning or load_tuning()
    transport = Transport(settings.base_url, timeout=default_timeout(tuning.http_timeout))
    auth = AuthApi(transport, settings.require("app_id"), settings.require("app_secret"))
    store = TokenStore(settings.require("token_table"))
    refresher = TokenRefresher(
        app_type=settings.app_type,
        auth=auth,
        store=store,
        policy=tuning.retry_policy(),
        app_token_margin=tuning.refresh_margin,
    )
    tokens = TokenProvider(store, refresher, app_type=settings.app_type, tuning=tuning)
    client = LarkClient(transport, tokens, rate_limit_max_wait=tuning.rate_limit_max_wait)
    return LarkServices(store, refresher, tokens, client, tuning)
