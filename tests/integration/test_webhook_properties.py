"""Arbitrary bodies and headers thrown at the real handler (AWS on moto's server).

Whatever arrives, the handler answers: never an exception, never a 5xx (nothing here breaks a
dependency), nothing queued unless the push was genuinely signed and known.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lark_service.local.aws import Stack
from lark_service.local.samples import function_url_event
from lark_service.webhook import crypto
from tests.integration.webhook_support import KEY, TOKEN, drain, load_webhook

pytestmark = pytest.mark.integration

PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

header_names = st.sampled_from(
    [
        "x-lark-signature",
        "X-Lark-Signature",
        "x-lark-request-timestamp",
        "x-lark-request-nonce",
        "content-type",
        "x-other",
    ]
)
header_values = st.text(max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
push_like = st.fixed_dictionaries(
    {},
    optional={
        "schema": st.sampled_from(["2.0", "1.0", 2]),
        "type": st.sampled_from(["url_verification", "event_callback", "other", None]),
        "token": st.sampled_from([TOKEN, "wrong", None, 7]),
        "challenge": json_values,
        "uuid": json_values,
        "header": st.fixed_dictionaries(
            {},
            optional={
                "event_id": json_values,
                "event_type": st.sampled_from(["im.message.receive_v1", "card.action.trigger", "x"])
                | json_values,
                "token": st.sampled_from([TOKEN, "wrong"]) | json_values,
            },
        )
        | json_values,
        "event": json_values,
        "action": json_values,
        "open_id": json_values,
        "encrypt": json_values,
    },
)


@pytest.fixture
def app(stack: Stack, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return load_webhook(monkeypatch)


def _invoke(app: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.handler(event, None)
    body = json.loads(response["body"])
    assert isinstance(body, dict)
    return response["statusCode"], body


@PROPERTY_SETTINGS
@given(
    body=st.binary(max_size=400) | st.text(max_size=400).map(str.encode),
    headers=st.dictionaries(header_names, header_values, max_size=5),
    base64_flag=st.booleans(),
    method=st.sampled_from(["POST", "GET", "PUT"]),
    path=st.sampled_from(["/lark/events", "/health", "/lark/events/", "/", "/other"]),
)
def test_arbitrary_requests_never_crash_or_5xx(
    app: Any, stack: Stack, body: bytes, headers: dict[str, str], base64_flag: bool, method: str, path: str
) -> None:
    event = function_url_event(method, path, headers, b"", base64_body=base64_flag)
    if base64_flag:
        import base64

        event["body"] = base64.b64encode(body).decode()
    else:
        event["body"] = body.decode("utf-8", "replace")
    status, reply = _invoke(app, event)
    assert status < 500, reply
    assert status in (200, 400, 401, 404, 405, 413)
    if status >= 400:
        assert reply["msg"]
    assert drain(stack) == []  # nothing here is signed: nothing may be queued


@PROPERTY_SETTINGS
@given(doc=push_like, signed=st.booleans(), encrypted=st.booleans())
def test_arbitrary_pushes_that_pass_the_crypto_never_crash_or_5xx(
    app: Any, stack: Stack, doc: dict[str, Any], signed: bool, encrypted: bool
) -> None:
    """Genuinely encrypted and signed bodies with arbitrary content reach the parser and token check."""
    import time

    plain = json.dumps(doc).encode()
    body = json.dumps({"encrypt": crypto.encrypt(KEY, plain)}).encode() if encrypted else plain
    headers: dict[str, str] = {}
    if signed:
        ts, nonce = str(int(time.time())), "n0nce"
        headers = {
            "x-lark-request-timestamp": ts,
            "x-lark-request-nonce": nonce,
            "x-lark-signature": crypto.signature(ts, nonce, KEY, body),
        }
    status, reply = _invoke(app, function_url_event("POST", "/lark/events", headers, body))
    assert status in (200, 400, 401), reply
    queued = drain(stack)
    if not (signed and encrypted and (doc.get("schema") == "2.0" or doc.get("type") == "event_callback")):
        assert queued == []  # only a signed, encrypted event could be queued here
    assert all(TOKEN not in json.dumps(message) for message in queued)
    if status != 200:
        assert KEY not in reply["msg"]
        assert TOKEN not in reply["msg"]


@PROPERTY_SETTINGS
@given(
    headers=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=6),
    junk=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
)
def test_malformed_function_url_events_are_answered(
    app: Any, headers: dict[str, str], junk: dict[str, Any]
) -> None:
    event: dict[str, Any] = {**junk, "headers": headers}
    status, reply = _invoke(app, event)
    assert status == 400
    assert reply["error"] == "bad_event"


def test_unsigned_plaintext_push_is_refused_and_not_queued(app: Any, stack: Stack) -> None:
    event = function_url_event("POST", "/lark/events", {}, json.dumps({"schema": "2.0"}).encode())
    assert _invoke(app, event)[0] == 401
    assert drain(stack) == []
