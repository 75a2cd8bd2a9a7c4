"""Fuzz drill: Hypothesis over the whole webhook handler (moto behind it), asserting on the QUEUE.

Two populations: requests nobody signed (any bytes, any headers, including lone surrogates and
deep nesting), and requests carrying a valid signature (made by the test's own hashlib oracle)
over arbitrary plaintexts. Whatever arrives: no 5xx (no dependency is broken here), and a
message is on the queue only when the push was signed, carried the right Verification Token and
named a handled event; when it is, it is the push as sent, minus the token.
``LARK_DRILL_EXAMPLES`` scales the run (``make drill`` raises it).
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lark_service.local.aws import Stack
from lark_service.local.samples import function_url_event
from tests import lark_oracle as lark
from tests.integration.webhook_support import KEY, TOKEN, drain, load_webhook

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("LARK_DRILL_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
HANDLED = "im.message.receive_v1"

# Lone surrogates, SQS's forbidden non-characters and controls, often: the defaults rarely pick them.
any_char = (
    st.characters()
    | st.characters(categories=["Cs"])
    | st.sampled_from(["\ufffe", "\uffff", "\x00", "\u2028"])
)
any_text = st.text(any_char, max_size=40)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=12,
)
nested = st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)
headers = st.dictionaries(
    st.sampled_from(["x-lark-signature", "x-lark-request-timestamp", "x-lark-request-nonce", "x-other"]),
    any_text,
    max_size=4,
)


@pytest.fixture
def app(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_webhook(monkeypatch)


def _answer(app: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = app.handler(event, None)
    return response["statusCode"], json.loads(response["body"])


@FUZZ
@given(
    body=st.binary(max_size=300)
    | any_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    | nested.map(str.encode),
    raw_text=st.none() | any_text,
    headers=headers,
    as_base64=st.booleans(),
)
def test_unsigned_requests_never_5xx_and_never_queue(
    app: ModuleType, stack: Stack, body: bytes, raw_text: str | None, headers: dict[str, str], as_base64: bool
) -> None:
    event = function_url_event("POST", "/lark/events", headers, b"", base64_body=as_base64)
    if raw_text is not None:
        event["body"] = raw_text  # a string body as the Function URL hands it, lone surrogates and all
    elif as_base64:
        event["body"] = base64.b64encode(body).decode()
    else:
        event["body"] = body.decode("utf-8", "surrogateescape")
    status, reply = _answer(app, event)
    assert 400 <= status < 500 or (status == 200 and "challenge" in reply), reply
    assert drain(stack) == []


@st.composite
def plaintexts(draw: st.DrawFn) -> tuple[bytes, dict[str, Any] | None]:
    """Arbitrary plaintexts: pushes with arbitrary parts, JSON values, raw bytes, deep nests."""
    kind = draw(st.sampled_from(["push", "json", "bytes", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200)), None
    if kind == "deep":
        return draw(nested).encode(), None
    if kind == "json":
        value = draw(json_values)
        return json.dumps(value).encode(), None
    doc = lark.event_v2(
        draw(any_text.filter(bool)) + uuid.uuid4().hex,
        draw(st.sampled_from([TOKEN, "wrong", None])),
        event_type=draw(st.sampled_from([HANDLED, "contact.user.created_v3"]) | any_text),
        text=draw(any_text),
    )
    doc["event"]["extra"] = draw(json_values)
    spaced = draw(st.booleans())
    return lark.dumps(doc, spaced=spaced), doc


@FUZZ
@given(plain=plaintexts(), spaced=st.booleans())
def test_signed_arbitrary_plaintexts_never_5xx_and_queue_only_valid_pushes(
    app: ModuleType, stack: Stack, plain: tuple[bytes, dict[str, Any] | None], spaced: bool
) -> None:
    raw, doc = plain
    headers, body = lark.encrypted_request(raw, KEY, now=time.time(), spaced=spaced)
    status, reply = _answer(app, function_url_event("POST", "/lark/events", headers, body))
    assert status < 500, reply
    queued = drain(stack)
    valid = (
        doc is not None
        and doc["header"].get("token") == TOKEN
        and 0 < len(doc["header"]["event_type"]) <= 256
        and _encodable(doc["header"]["event_type"])
        and len(doc["header"]["event_id"]) <= 256
        and _encodable(doc["header"]["event_id"])
    )
    if not valid:
        assert queued == [], (status, reply)
        return
    assert doc is not None
    if status == 400:
        assert reply["error"] == "too_deep"  # the only refusal a valid push can meet here
        assert queued == []
        return
    assert status == 200, reply
    [message] = queued
    expected = {**doc, "header": {k: v for k, v in doc["header"].items() if k != "token"}}
    assert message["event_id"] == doc["header"]["event_id"]
    assert message["body"] == expected  # lossless, minus the token


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
