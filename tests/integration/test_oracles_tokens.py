"""Token handling checked against Lark's documented answers, with the real token table on moto.

The oracle is Lark's documentation of ``POST /open-apis/auth/v3/tenant_access_token/internal``
(Open Platform docs, "Get tenant_access_token (custom app)"): the answer is
``{"code": 0, "msg": "ok", "tenant_access_token": "t-caecc734c2e3328a62489fe0648c4b98779515d3",
"expire": 7200}``; ``expire`` is in seconds; a token lives at most two hours; a call made while
the current token has 30 minutes or more left returns *that same token* (with what is left of
it), and a call made with less left returns a new one while the old one stays valid. The
official SDK reads ``expire`` the same way (larksuite/oapi-sdk-python
``lark_oapi/core/token/manager.py``, ``get_self_tenant_token``: ``time.time() + resp.expire``).

``DocumentedLark`` below is that rule and nothing more, answering over httpx's mock transport.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from lark_service.devtools.local.aws import Stack
from lark_service.lark.auth import TENANT_INTERNAL, AuthApi
from lark_service.lark.transport import Transport
from lark_service.tokens.keys import TENANT, token_key
from lark_service.tokens.provider import TokenProvider
from lark_service.tokens.refresher import TokenRefresher
from lark_service.tokens.retry import Budget, RetryPolicy
from lark_service.tokens.store import TokenStore
from lark_service.tokens.tuning import TokenTuning

pytestmark = pytest.mark.integration

APP_ID, APP_SECRET = "cli_oracle", "oracle-secret"
LIFETIME = 2 * 60 * 60
REISSUE_BELOW = 30 * 60
DOCS_TOKEN = "t-caecc734c2e3328a62489fe0648c4b98779515d3"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class DocumentedLark:
    """The documented reissue rule for the self-built tenant token, and a log of the calls."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.issued: list[tuple[str, float]] = []  # (token, issued_at), newest last
        self.calls: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", TENANT_INTERNAL)
        self.calls.append(json.loads(request.content))
        now = self.clock()
        if self.issued and LIFETIME - (now - self.issued[-1][1]) >= REISSUE_BELOW:
            token, issued_at = self.issued[-1]
        else:
            token, issued_at = (DOCS_TOKEN if not self.issued else f"t-reissued-{len(self.issued)}"), now
            self.issued.append((token, issued_at))
        remaining = int(LIFETIME - (now - issued_at))
        return httpx.Response(
            200, json={"code": 0, "msg": "ok", "tenant_access_token": token, "expire": remaining}
        )


@dataclass
class Rig:
    lark: DocumentedLark
    auth: AuthApi
    store: TokenStore
    refresher: TokenRefresher
    provider: TokenProvider


def rig(stack: Stack, clock: Clock, margin: float = 300.0) -> Rig:
    lark = DocumentedLark(clock)
    client = httpx.Client(base_url="https://open.feishu.cn", transport=httpx.MockTransport(lark))
    auth = AuthApi(Transport("https://open.feishu.cn", client=client), APP_ID, APP_SECRET)
    store = TokenStore(stack.token_table)
    refresher = TokenRefresher(
        app_type="self_built", auth=auth, store=store, policy=RetryPolicy(attempts=1), clock=clock
    )
    tuning = TokenTuning(refresh_margin=margin, lock_wait=5.0, lock_poll=0.01)
    provider = TokenProvider(store, refresher, app_type="self_built", tuning=tuning, clock=clock)
    return Rig(lark, auth, store, refresher, provider)


def test_the_documented_answer_is_read_and_stored_with_its_absolute_expiry(stack: Stack) -> None:
    clock = Clock(1_700_000_000.0)
    r = rig(stack, clock)
    answer = r.auth.tenant_token_internal()
    assert (answer.token, answer.expire) == (DOCS_TOKEN, 7200)
    assert r.lark.calls == [{"app_id": APP_ID, "app_secret": APP_SECRET}]
    clock.now += 600
    stored = r.refresher.fetch(TENANT, None, Budget(60))
    assert (stored.token, stored.expires_at, stored.fetched_at) == (
        DOCS_TOKEN,
        1_700_000_000.0 + 7200,
        clock.now,
    )


@pytest.mark.parametrize("elapsed", [0, 1, 3600, LIFETIME - REISSUE_BELOW])
def test_the_refresher_stores_what_is_left_of_a_reissued_token(stack: Stack, elapsed: int) -> None:
    """Lark hands back the same token mid-life with ``expire`` = what is left: store that, not 2 h."""
    clock = Clock(1_700_000_000.0)
    r = rig(stack, clock)
    r.refresher.fetch(TENANT, None, Budget(60))
    clock.now += elapsed
    stored = r.refresher.fetch(TENANT, None, Budget(60))
    assert stored.token == DOCS_TOKEN
    assert stored.expires_at == 1_700_000_000.0 + LIFETIME
    from_table = r.store.get(token_key(TENANT, APP_ID))
    assert from_table is not None
    assert (from_table.token, from_table.expires_at, from_table.fetched_at) == (
        DOCS_TOKEN,
        1_700_000_000.0 + LIFETIME,
        clock.now,
    )


def test_a_token_well_inside_its_life_is_served_without_calling_lark(stack: Stack) -> None:
    clock = Clock(1_700_000_000.0)
    r = rig(stack, clock)
    assert r.provider.tenant_token() == DOCS_TOKEN
    for _ in range(3):
        clock.now += 1500
        assert r.provider.tenant_token() == DOCS_TOKEN
    assert len(r.lark.calls) == 1


def test_a_token_inside_the_margin_is_replaced_before_it_expires(stack: Stack) -> None:
    """With 200 s left and a 300 s margin the provider must fetch; Lark then issues a new token."""
    clock = Clock(1_700_000_000.0)
    r = rig(stack, clock, margin=300.0)
    assert r.provider.tenant_token() == DOCS_TOKEN
    clock.now += LIFETIME - 200
    fresh = r.provider.tenant_token()
    assert fresh != DOCS_TOKEN
    assert fresh == r.lark.issued[-1][0]
    assert len(r.lark.calls) == 2


def test_the_default_margin_fits_inside_larks_reissue_window() -> None:
    """A margin of 30 min or more would ask Lark for a token it answers with the same one, forever;
    no margin at all would hand out tokens that expire during the call."""
    margin = TokenTuning().refresh_margin
    assert 30 <= margin < REISSUE_BELOW
