"""The push shapes Lark documents, read field by field, and the 400s for what is not one of them.

Documents are Lark's published samples (Open Platform docs, "Event subscription overview" for
2.0 and 1.0 events and ``url_verification``; "Card callback communication" for
``card.action.trigger`` and the legacy message-card callback), reduced to the fields read here;
the same layouts larksuite/oapi-sdk-python parses in ``lark_oapi/event/dispatcher_handler.py``
(``EventContext``: ``schema``/``header`` for 2.0, ``uuid``/``type``/``event`` for 1.0).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from lark_service.envelope import Envelope
from lark_service.webhook.protocol import (
    MAX_DEPTH,
    Challenge,
    Rejected,
    Reply,
    Request,
    Shape,
    _deeper_than,
    card_action,
    classify,
    created_at,
    event_id,
    load_json_object,
    parse,
    push_token,
)

V2 = {
    "schema": "2.0",
    "header": {
        "event_id": "5e3702a84e847582be8db7fb73283c02",
        "event_type": "im.message.receive_v1",
        "create_time": "1608725989000",
        "token": "rvaYgkR3dKBXZ8MEibhsrgjxbpOqLSYe",
        "app_id": "cli_9f5343c580712544",
        "tenant_key": "2ca1d211f64f6438",
    },
    "event": {"message": {"message_id": "om_5ce6d572455d361153b7cb51da133945"}},
}
V1 = {
    "ts": "1502199207.7171419",
    "uuid": "bc447199585340d1f3728d26b1c0297a",
    "token": "41a9425ea7df4536a7623e38fa321bae",
    "type": "event_callback",
    "event": {"type": "app_ticket", "app_id": "cli_9e28cb7ba56a100e", "app_ticket": "ticket_xxx"},
}
CHALLENGE = {"challenge": "ajls384kdjx98XX", "token": "xxxxxx", "type": "url_verification"}
CARD_V2 = {
    "schema": "2.0",
    "header": {
        "event_id": "f7984f25108f8137722bb63c2bc9c7c9",
        "token": "066zT6pS4QCbgj5Do145GfDbbag3ZBP8",
        "create_time": "1603977298000000",
        "event_type": "card.action.trigger",
        "tenant_key": "2df73991750f175d",
        "app_id": "cli_a5fb0ae6a4297013",
    },
    "event": {"action": {"value": {"action": "approve"}, "tag": "button"}},
}
LEGACY = {
    "open_id": "ou_sdfimx9348ejfksdfjsdkfl",
    "user_id": "e8e7d2e2",
    "open_message_id": "om_abcdefg1234567890",
    "open_chat_id": "oc_abcdefg1234567890",
    "tenant_key": "d32004232",
    "token": "c-295ee57216a5dc9de90fefd0aadb4b1d7d337bc0",
    "action": {"value": {"action": "approve"}, "tag": "button"},
}


def _raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("doc", "shape"),
    [
        (V2, Shape.EVENT_V2),
        (V1, Shape.EVENT_V1),
        (CHALLENGE, Shape.CHALLENGE),
        (CARD_V2, Shape.CARD_ACTION),
        (LEGACY, Shape.LEGACY_CARD),
        ({k: v for k, v in LEGACY.items() if k != "open_message_id"}, Shape.LEGACY_CARD),
        ({k: v for k, v in LEGACY.items() if k != "open_id"}, Shape.LEGACY_CARD),
        ({k: v for k, v in LEGACY.items() if k not in ("open_id", "open_message_id")}, None),
        ({**LEGACY, "action": "approve"}, None),
        ({**LEGACY, "schema": "1.0"}, None),
        ({**LEGACY, "type": "card"}, None),
        ({**V2, "header": "not an object"}, Shape.EVENT_V2),
        ({**V2, "header": {**V2["header"], "event_type": "card.action.trigger"}}, Shape.CARD_ACTION),
        ({"schema": "1.0", "type": "event_callback"}, Shape.EVENT_V1),
        ({"type": "something_else"}, None),
        ({}, None),
    ],
)
def test_each_documented_shape_is_named(doc: dict[str, Any], shape: Shape | None) -> None:
    assert classify(doc) is shape


def test_the_verification_token_is_read_where_each_schema_puts_it() -> None:
    assert push_token(V2) == "rvaYgkR3dKBXZ8MEibhsrgjxbpOqLSYe"
    assert push_token(CARD_V2) == "066zT6pS4QCbgj5Do145GfDbbag3ZBP8"
    assert push_token(V1) == "41a9425ea7df4536a7623e38fa321bae"
    assert push_token(CHALLENGE) == "xxxxxx"
    assert push_token({**V2, "token": "top-level"}) == "rvaYgkR3dKBXZ8MEibhsrgjxbpOqLSYe"
    assert push_token({"schema": "2.0", "header": "x", "token": "top"}) == "top"
    assert push_token({"token": 123}) is None
    assert push_token({}) is None


def test_the_event_id_for_log_lines() -> None:
    assert event_id(V2) == "5e3702a84e847582be8db7fb73283c02"
    assert event_id(V1) == "bc447199585340d1f3728d26b1c0297a"
    assert event_id({"header": "x", "uuid": "u-1"}) == "u-1"
    assert event_id({"header": {"event_id": 7}}) is None
    assert event_id({"uuid": None}) is None
    assert event_id({"header": {"event_id": "e" * 200}}) == "e" * 128
    assert event_id({"uuid": "u" * 129}) == "u" * 128


def test_when_lark_created_the_push() -> None:
    assert created_at(Shape.EVENT_V2, V2) == 1608725989.0  # milliseconds
    assert created_at(Shape.CARD_ACTION, {"header": {"create_time": 1608725989500}}) == 1608725989.5
    assert created_at(Shape.EVENT_V1, V1) == pytest.approx(1502199207.7171419)  # seconds
    assert created_at(Shape.EVENT_V1, {"ts": 1502199207}) == 1502199207.0
    assert created_at(Shape.CHALLENGE, CHALLENGE) is None
    assert created_at(Shape.LEGACY_CARD, LEGACY) is None
    assert created_at(Shape.EVENT_V2, {"header": "x", "create_time": "1608725989000"}) is None
    assert created_at(Shape.EVENT_V2, {"header": {}}) is None
    for odd in ("soon", "1e400", "nan", "inf", True, None, [1]):
        assert created_at(Shape.EVENT_V1, {"ts": odd}) is None, odd
        assert created_at(Shape.EVENT_V2, {"header": {"create_time": odd}}) is None, odd
    assert created_at(Shape.EVENT_V1, {"ts": 10**400}) is None


def test_a_2_0_event_becomes_an_envelope_without_the_token() -> None:
    envelope = parse(Shape.EVENT_V2, V2, _raw(V2), 1608725990.25)
    header = {k: v for k, v in V2["header"].items() if k != "token"}
    assert envelope == Envelope(
        "event",
        "2.0",
        "5e3702a84e847582be8db7fb73283c02",
        "im.message.receive_v1",
        "2ca1d211f64f6438",
        1608725990.25,
        {**V2, "header": header},
    )


def test_a_card_callback_becomes_a_card_envelope() -> None:
    envelope = parse(Shape.CARD_ACTION, CARD_V2, _raw(CARD_V2), 5.0)
    assert (envelope.kind, envelope.schema, envelope.event_id, envelope.event_type, envelope.tenant_key) == (
        "card",
        "card.v2",
        "f7984f25108f8137722bb63c2bc9c7c9",
        "card.action.trigger",
        "2df73991750f175d",
    )
    assert "token" not in envelope.body["header"]
    assert card_action(envelope) == "approve"


def test_a_1_0_event_becomes_an_envelope_without_the_token() -> None:
    envelope = parse(Shape.EVENT_V1, V1, _raw(V1), 7.5)
    assert envelope == Envelope(
        "event",
        "1.0",
        "bc447199585340d1f3728d26b1c0297a",
        "app_ticket",
        None,
        7.5,
        {k: v for k, v in V1.items() if k != "token"},
    )


def test_a_1_0_event_s_tenant_key_is_the_event_s_else_the_push_s() -> None:
    inner = {**V1, "tenant_key": "outer", "event": {**V1["event"], "tenant_key": "inner"}}
    assert parse(Shape.EVENT_V1, inner, _raw(inner), 0.0).tenant_key == "inner"  # type: ignore[union-attr]
    outer = {**V1, "tenant_key": "outer"}
    assert parse(Shape.EVENT_V1, outer, _raw(outer), 0.0).tenant_key == "outer"  # type: ignore[union-attr]


def test_a_legacy_card_is_keyed_by_a_digest_of_its_bytes_and_keeps_its_update_token() -> None:
    raw = json.dumps(LEGACY, separators=(",", ":")).encode()
    envelope = parse(Shape.LEGACY_CARD, LEGACY, raw, 3.0)
    assert envelope == Envelope(
        "card",
        "card.v1",
        "card1-" + hashlib.sha256(raw).hexdigest()[:40],
        "card.action.trigger",
        "d32004232",
        3.0,
        LEGACY,
    )
    assert isinstance(envelope, Envelope)
    assert envelope.body["token"] == "c-295ee57216a5dc9de90fefd0aadb4b1d7d337bc0"
    assert card_action(envelope) == "approve"


def test_a_challenge_is_read_as_received() -> None:
    assert parse(Shape.CHALLENGE, CHALLENGE, _raw(CHALLENGE), 0.0) == Challenge("ajls384kdjx98XX")


def _refusal(shape: Shape, doc: dict[str, Any]) -> Rejected:
    with pytest.raises(Rejected) as raised:
        parse(shape, doc, _raw(doc), 0.0)
    return raised.value


@pytest.mark.parametrize(
    ("shape", "doc", "message"),
    [
        (Shape.CHALLENGE, {"type": "url_verification"}, "challenge is missing or not a string"),
        (Shape.CHALLENGE, {**CHALLENGE, "challenge": ""}, "challenge is missing or not a string"),
        (Shape.CHALLENGE, {**CHALLENGE, "challenge": 5}, "challenge is missing or not a string"),
        (Shape.EVENT_V2, {**V2, "header": None}, "header is missing or not an object in a schema 2.0 push"),
        (Shape.CARD_ACTION, {"schema": "2.0"}, "header is missing or not an object in a schema 2.0 push"),
        (
            Shape.EVENT_V2,
            {**V2, "header": {**V2["header"], "event_id": ""}},
            "header.event_id is missing or not a string",
        ),
        (
            Shape.EVENT_V2,
            {**V2, "header": {k: v for k, v in V2["header"].items() if k != "event_type"}},
            "header.event_type is missing or not a string",
        ),
        (Shape.EVENT_V1, {**V1, "event": "x"}, "event is missing or not an object in a schema 1.0 push"),
        (Shape.EVENT_V1, {**V1, "uuid": 17}, "uuid is missing or not a string"),
        (Shape.EVENT_V1, {**V1, "event": {"app_id": "cli"}}, "event.type is missing or not a string"),
        (
            Shape.EVENT_V2,
            {**V2, "header": {**V2["header"], "event_id": "e" * 257}},
            "header.event_id is longer than 256 characters",
        ),
        (
            Shape.EVENT_V1,
            {**V1, "event": {"type": "a\ud800b"}},
            "event.type is not valid Unicode text",
        ),
    ],
)
def test_a_push_of_the_wrong_shape_is_a_400_naming_the_field(
    shape: Shape, doc: dict[str, Any], message: str
) -> None:
    refusal = _refusal(shape, doc)
    assert (refusal.status, refusal.reason, refusal.message) == (400, "bad_shape", message)
    assert refusal.reply() == Reply(400, {"error": "bad_shape", "msg": message}, "rejected")


def test_an_identifier_of_exactly_256_characters_is_accepted() -> None:
    doc = {**V2, "header": {**V2["header"], "event_id": "e" * 256}}
    assert parse(Shape.EVENT_V2, doc, _raw(doc), 0.0).event_id == "e" * 256  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "event",
    [
        {"action": "approve"},
        {"action": {"value": "approve"}},
        {"action": {"value": {"action": 7}}},
        {"action": {"tag": "button"}},
        {},
    ],
)
def test_a_card_without_a_named_action_has_none(event: dict[str, Any]) -> None:
    envelope = Envelope("card", "card.v2", "e", "card.action.trigger", None, 0.0, {"event": event})
    assert card_action(envelope) is None


def _nested(depth: int) -> bytes:
    """A document ``depth`` containers deep: the outer object, then lists."""
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_nesting_up_to_the_limit_is_accepted_one_more_is_refused() -> None:
    assert load_json_object(_nested(MAX_DEPTH), "body")
    with pytest.raises(Rejected) as raised:
        load_json_object(_nested(MAX_DEPTH + 1), "body")
    assert (raised.value.status, raised.value.reason) == (400, "too_deep")
    assert raised.value.message == f"body nests deeper than {MAX_DEPTH} levels"


def test_many_brackets_side_by_side_are_not_depth() -> None:
    wide = b'{"a":[' + b",".join([b"[]"] * 200) + b"]}"
    assert load_json_object(wide, "body") == {"a": [[]] * 200}


def test_the_depth_walk_counts_containers() -> None:
    assert not _deeper_than({}, 1)
    assert _deeper_than({"a": {}}, 1)
    assert not _deeper_than({"a": [1, "x", {"b": []}]}, 4)
    assert _deeper_than({"a": [1, "x", {"b": []}]}, 3)
    assert not _deeper_than([[], {}], 2)


def test_a_too_deep_signed_push_names_its_event() -> None:
    doc = b'{"header":{"event_id":"ev-deep"},"x":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}"
    with pytest.raises(Rejected) as raised:
        load_json_object(doc, "decrypted body")
    assert raised.value.event_id == "ev-deep"
    assert raised.value.message == f"decrypted body nests deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1]", "body is not a JSON object"),
        (b"not json", "body is not valid JSON"),
        (b"\xff\xfe", "body is not valid JSON"),
    ],
)
def test_what_is_not_a_json_object_is_a_400(raw: bytes, message: str) -> None:
    with pytest.raises(Rejected) as raised:
        load_json_object(raw, "body")
    assert (raised.value.status, raised.value.reason, raised.value.message) == (400, "bad_json", message)


def test_header_names_are_folded_and_the_method_upper_cased() -> None:
    request = Request.create("post", "/lark/events", {"X-Lark-Signature": "abc", "Content-Type": "x"}, b"{}")
    assert request == Request("POST", "/lark/events", {"x-lark-signature": "abc", "content-type": "x"}, b"{}")
    assert Request.create("GET", "/", None, b"").headers == {}


def test_replies_are_compact_ascii_json_and_refusals_name_their_route() -> None:
    assert Reply(200, {"challenge": "é"}, "challenge").json() == '{"challenge":"\\u00e9"}'
    assert Rejected(409, "in_progress", "busy").reply().route == "in_progress"
    assert Rejected(401, "bad_signature", "no").reply() == Reply(
        401, {"error": "bad_signature", "msg": "no"}, "rejected"
    )
