"""The alert notifier's domain: both payload formats, the card, and one card per group.

Oracles: Alertmanager's documented webhook format (prometheus/alertmanager docs/configuration.md,
``<webhook_config>``; the fixture ``tests/events/alertmanager_firing.json`` follows it field by
field) and AWS's own CloudWatch alarm SNS examples (aws/aws-lambda-go
``events/testdata/cloudwatch-alarm-sns-payload-*.json``, copied unchanged under
``tests/unit/fixtures/aws-lambda-go/``). The real Alertmanager's payload is exercised end to end
in ``tests/integration/test_alerts_to_lark.py``.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lark_service.alerts.alertmanager import parse_message, parse_webhook
from lark_service.alerts.card import MAX_ALERTS, render_card
from lark_service.alerts.cloudwatch import is_sns_event, parse_sns_event
from lark_service.alerts.entry import handle_event
from lark_service.alerts.model import AlertGroup, MalformedAlert
from lark_service.alerts.notifier import AlertNotifier, card_digest
from lark_service.alerts.store import CardRecord
from lark_service.lark.errors import LarkApiError, LarkRateLimited
from lark_service.local.samples import function_url_event
from lark_service.stores import DependencyError
from tests.conftest import EVENTS, ROOT

AWS_EXAMPLES = ROOT / "tests" / "unit" / "fixtures" / "aws-lambda-go"
LOG = logging.getLogger("test")


def firing_payload() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EVENTS / "alertmanager_firing.json").read_text())
    return doc


def resolved_payload() -> dict[str, Any]:
    doc = firing_payload()
    doc["status"] = "resolved"
    doc["alerts"][0]["status"] = "resolved"
    doc["alerts"][0]["endsAt"] = "2026-11-30T02:31:13.802Z"
    return doc


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


# --- Alertmanager ------------------------------------------------------------------------------
def test_alertmanager_payload_becomes_a_group_keyed_by_group_key() -> None:
    group = parse_webhook(json.dumps(firing_payload()).encode())
    assert group.key == 'alertmanager:{}:{alertname="LarkRateLimited"}'
    assert group.status == "firing"
    assert group.title == "LarkRateLimited"
    assert group.link == "http://localhost:9093"
    (alert,) = group.alerts
    assert alert.severity == "warning"
    assert alert.summary == "Lark has been rate-limiting calls for 10 minutes."
    assert alert.starts_at == datetime(2026, 11, 30, 2, 10, 13, 802000, tzinfo=UTC)
    assert alert.ends_at is None  # Go's zero time: not set
    assert alert.labels["endpoint"] == "/open-apis/im/v1/messages/:message_id/reply"


def test_alertmanager_nanosecond_timestamps_and_common_annotations() -> None:
    doc = firing_payload()
    doc["alerts"][0]["startsAt"] = "2026-11-30T02:10:13.123456789+01:00"  # Go's RFC3339Nano
    doc["alerts"][0]["annotations"] = {}
    (alert,) = parse_message(doc).alerts
    assert alert.starts_at == datetime(2026, 11, 30, 1, 10, 13, 123456, tzinfo=UTC)
    assert alert.summary == doc["commonAnnotations"]["summary"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d.update(version="3"), "version"),
        (lambda d: d.pop("groupKey"), "groupKey"),
        (lambda d: d.update(status="pending"), "body.status"),
        (lambda d: d.update(alerts=[]), "body.alerts"),
        (lambda d: d["alerts"][0].update(startsAt="yesterday"), "body.alerts[0].startsAt"),
        (lambda d: d["alerts"][0].update(labels={"severity": 3}), "body.alerts[0].labels"),
        (lambda d: d["alerts"].__setitem__(0, "x"), "body.alerts[0]"),
        (lambda d: d.update(truncatedAlerts=-1), "truncatedAlerts"),
    ],
)
def test_malformed_alertmanager_payload_names_the_field(change: Any, named: str) -> None:
    doc = firing_payload()
    change(doc)
    with pytest.raises(MalformedAlert, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_message(doc)


def test_body_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedAlert, match="not JSON"):
        parse_webhook(b"\xff{")
    with pytest.raises(MalformedAlert, match="JSON object"):
        parse_webhook(b"[1]")


# --- CloudWatch through SNS --------------------------------------------------------------------
def test_aws_single_metric_example() -> None:
    event = load(AWS_EXAMPLES / "cloudwatch-alarm-sns-payload-single-metric.json")
    assert is_sns_event(event)
    (group,) = parse_sns_event(event)
    assert group is not None
    assert group.key == "cloudwatch:EXAMPLE"
    assert group.status == "firing"
    (alert,) = group.alerts
    assert alert.labels == {
        "alarm": "EXAMPLE",
        "metric": "AWS/EC2/NetworkOut",
        "InstanceId": "TestInstance",
        "account": "123456789012",
        "region": "EXAMPLE",
    }
    assert alert.description.startswith("Threshold Crossed: 1 out of the last 1 datapoints")
    assert alert.starts_at == datetime(2015, 6, 3, 17, 43, 27, 123000, tzinfo=UTC)
    assert group.link is None  # the example's ARN says REGION, not a region


def test_aws_metric_math_example_has_no_single_metric() -> None:
    (group,) = parse_sns_event(load(AWS_EXAMPLES / "cloudwatch-alarm-sns-payload-multiple-metrics.json"))
    assert group is not None
    assert "metric" not in group.alerts[0].labels
    assert group.alerts[0].labels["account"] == "EXAMPLE"


def test_stack_alarm_and_its_ok() -> None:
    (firing,) = parse_sns_event(load(EVENTS / "alert_sns_alarm.json"))
    (resolved,) = parse_sns_event(load(EVENTS / "alert_sns_ok.json"))
    assert firing is not None
    assert resolved is not None
    assert firing.key == resolved.key == "cloudwatch:lark-service-dev-DeadLetterQueueAlarm-1XK2ZQ7V9J3PA"
    assert (firing.status, resolved.status) == ("firing", "resolved")
    assert firing.alerts[0].summary == "Events that failed every retry are waiting in the DLQ."
    assert firing.alerts[0].labels["QueueName"] == "lark-service-dev-events-dlq"
    assert resolved.alerts[0].ends_at == datetime(2026, 11, 30, 2, 35, 13, 771000, tzinfo=UTC)
    assert firing.link == (
        "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#alarmsV2:alarm/lark-service-dev-DeadLetterQueueAlarm-1XK2ZQ7V9J3PA"
    )


def test_insufficient_data_has_no_card_and_unknown_states_are_malformed() -> None:
    event = load(EVENTS / "alert_sns_alarm.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message["NewStateValue"] = "INSUFFICIENT_DATA"
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    assert parse_sns_event(event) == [None]
    message["NewStateValue"] = "BROKEN"
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    with pytest.raises(MalformedAlert, match="NewStateValue"):
        parse_sns_event(event)
    event["Records"][0]["Sns"]["Message"] = "not json"
    with pytest.raises(MalformedAlert, match=r"Records\[0\].Sns.Message"):
        parse_sns_event(event)


# --- the card ----------------------------------------------------------------------------------
def _texts(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "tag" in node and "content" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def test_card_colour_fields_runbook_and_shared_config() -> None:
    group = parse_message(firing_payload())
    card = render_card(group, "https://example.com/docs/monitoring.md")
    assert card["config"]["update_multi"] is True  # Lark updates only shared cards
    assert card["header"]["template"] == "orange"  # warning
    assert card["header"]["title"]["content"] == "[FIRING] LarkRateLimited"
    contents = [t["content"] for t in _texts(card)]
    assert "Lark has been rate-limiting calls for 10 minutes." in contents
    assert "Severity: warning" in contents
    assert "Started: 2026-11-30 02:10:13 UTC" in contents
    assert any(c.startswith("Labels: endpoint=/open-apis/im/v1/messages/:message_id/reply") for c in contents)
    buttons = [a for e in card["elements"] if e["tag"] == "action" for a in e["actions"]]
    assert [b["url"] for b in buttons] == [
        "https://example.com/docs/monitoring.md#larkratelimited",
        "http://localhost:9093",
    ]
    resolved = render_card(parse_message(resolved_payload()), None)
    assert resolved["header"]["template"] == "green"
    assert resolved["header"]["title"]["content"] == "[RESOLVED] LarkRateLimited"
    assert "Resolved: 2026-11-30 02:31:13 UTC" in [t["content"] for t in _texts(resolved)]


def test_card_never_renders_alert_text_as_markdown() -> None:
    doc = firing_payload()
    doc["alerts"][0]["labels"]["evil"] = '<at id="all"></at> [click](https://evil.example)'
    doc["alerts"][0]["labels"]["severity"] = "critical"
    doc["alerts"][0]["annotations"]["runbook_url"] = "https://runbooks.example/x"
    card = render_card(parse_message(doc), "https://ignored.example")
    assert card["header"]["template"] == "red"
    assert {t["tag"] for t in _texts(card)} == {"plain_text"}
    buttons = [a for e in card["elements"] if e["tag"] == "action" for a in e["actions"]]
    assert buttons[0]["url"] == "https://runbooks.example/x"  # the alert's own runbook wins


def test_card_shows_at_most_max_alerts_and_counts_the_rest() -> None:
    doc = firing_payload()
    doc["alerts"] = [dict(doc["alerts"][0], fingerprint=str(i)) for i in range(MAX_ALERTS + 3)]
    doc["truncatedAlerts"] = 2
    card = render_card(parse_message(doc))
    assert card["header"]["title"]["content"] == f"[FIRING:{MAX_ALERTS + 3}] LarkRateLimited"
    assert "… and 5 more alert(s) in this group." in [t["content"] for t in _texts(card)]
    assert len(json.dumps(card).encode()) < 30 * 1024  # Lark's limit for a card update


# --- one card per group ------------------------------------------------------------------------
class FakeLark:
    """Lark's message create (with its one-hour ``uuid`` de-duplication) and card patch."""

    def __init__(self) -> None:
        self.cards: dict[str, dict[str, Any]] = {}
        self.by_uuid: dict[str, str] = {}
        self.calls: list[str] = []
        self.patch_error: Exception | None = None

    def send_message(
        self,
        receive_id_type: str,
        receive_id: str,
        *,
        msg_type: str,
        content: dict[str, Any],
        uuid: str | None = None,
        tenant_key: str | None = None,
    ) -> dict[str, Any]:
        assert (receive_id_type, receive_id, msg_type) == ("chat_id", "oc_alerts", "interactive")
        self.calls.append("send")
        if uuid and uuid in self.by_uuid:
            return {"message_id": self.by_uuid[uuid]}
        message_id = f"om_{len(self.cards) + 1}"
        self.cards[message_id] = content
        if uuid:
            self.by_uuid[uuid] = message_id
        return {"message_id": message_id}

    def patch_message(
        self, message_id: str, *, card: dict[str, Any], tenant_key: str | None = None
    ) -> dict[str, Any]:
        self.calls.append("patch")
        if self.patch_error:
            raise self.patch_error
        self.cards[message_id] = card
        return {}


class MemoryCards:
    def __init__(self) -> None:
        self.records: dict[str, CardRecord] = {}
        self.fail = False

    def get(self, group_key: str) -> CardRecord | None:
        if self.fail:
            raise DependencyError("DynamoDB GetItem failed (ServiceUnavailable)")
        return self.records.get(group_key)

    def put(self, group_key: str, record: CardRecord, *, new_card: bool) -> None:
        self.records[group_key] = record


@pytest.fixture
def lark() -> FakeLark:
    return FakeLark()


@pytest.fixture
def cards() -> MemoryCards:
    return MemoryCards()


@pytest.fixture
def notifier(lark: FakeLark, cards: MemoryCards) -> AlertNotifier:
    return AlertNotifier(lark, cards, "oc_alerts")


def test_one_card_per_group_updated_on_resolve(notifier: AlertNotifier, lark: FakeLark) -> None:
    firing, resolved = parse_message(firing_payload()), parse_message(resolved_payload())
    first = notifier.deliver(firing)
    assert (first.outcome, first.message_id) == ("posted", "om_1")
    assert notifier.deliver(firing).outcome == "unchanged"  # redelivery: nothing sent
    assert lark.calls == ["send"]
    done = notifier.deliver(resolved)
    assert (done.outcome, done.message_id) == ("updated", "om_1")
    assert notifier.deliver(resolved).outcome == "unchanged"
    assert lark.calls == ["send", "patch"]
    assert list(lark.cards) == ["om_1"]
    assert lark.cards["om_1"] == render_card(resolved)


def test_a_group_that_fires_again_gets_a_new_card(notifier: AlertNotifier, lark: FakeLark) -> None:
    notifier.deliver(parse_message(firing_payload()))
    notifier.deliver(parse_message(resolved_payload()))
    again = notifier.deliver(parse_message(firing_payload()))
    assert (again.outcome, again.message_id) == ("posted", "om_2")


def test_resolved_without_a_card_posts_nothing(notifier: AlertNotifier, lark: FakeLark) -> None:
    assert notifier.deliver(parse_message(resolved_payload())).outcome == "skipped"
    assert lark.calls == []


def test_racing_first_deliveries_end_on_one_message(lark: FakeLark) -> None:
    """Two instances that both found no record: Lark's uuid de-duplication returns one message."""
    group = parse_message(firing_payload())
    a = AlertNotifier(lark, MemoryCards(), "oc_alerts").deliver(group)
    b = AlertNotifier(lark, MemoryCards(), "oc_alerts").deliver(group)
    assert a.message_id == b.message_id == "om_1"
    assert list(lark.cards) == ["om_1"]


def test_a_card_lark_will_not_update_is_replaced(
    notifier: AlertNotifier, lark: FakeLark, cards: MemoryCards
) -> None:
    notifier.deliver(parse_message(firing_payload()))
    lark.patch_error = LarkApiError("/open-apis/im/v1/messages/:message_id", 400, 230031, "too old")
    done = notifier.deliver(parse_message(resolved_payload()))
    assert (done.outcome, done.message_id) == ("posted", "om_2")
    assert cards.records[done.group_key] == CardRecord(
        "om_2", 2, "resolved", card_digest(render_card(parse_message(resolved_payload())))
    )


def test_rate_limited_update_propagates(notifier: AlertNotifier, lark: FakeLark) -> None:
    notifier.deliver(parse_message(firing_payload()))
    lark.patch_error = LarkRateLimited("/open-apis/im/v1/messages/:message_id", 429, 99991400, "slow", 30)
    with pytest.raises(LarkRateLimited):
        notifier.deliver(parse_message(resolved_payload()))


# --- the function's doors ----------------------------------------------------------------------
def http_event(body: bytes, method: str = "POST", path: str = "/alerts") -> dict[str, Any]:
    return function_url_event(method, path, {"content-type": "application/json"}, body)


def reply(result: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return int(result["statusCode"]), json.loads(result["body"])


def test_http_door_delivers_and_refuses_malformed(notifier: AlertNotifier, lark: FakeLark) -> None:
    status, body = reply(handle_event(notifier, http_event(json.dumps(firing_payload()).encode()), LOG))
    assert (status, body["outcome"], body["message_id"]) == (200, "posted", "om_1")
    status, body = reply(handle_event(notifier, http_event(b'{"version": "3"}'), LOG))
    assert status == 400
    assert "version" in body["msg"]
    assert reply(handle_event(notifier, http_event(b"{", path="/other"), LOG))[0] == 404
    assert reply(handle_event(notifier, http_event(b"", method="GET"), LOG))[0] == 405
    encoded = http_event(b"")
    encoded.update(
        body=base64.b64encode(json.dumps(resolved_payload()).encode()).decode(), isBase64Encoded=True
    )
    assert reply(handle_event(notifier, encoded, LOG)) == (
        200,
        {"status": "ok", "outcome": "updated", "message_id": "om_1"},
    )


def test_http_door_answers_503_when_a_dependency_fails(notifier: AlertNotifier, cards: MemoryCards) -> None:
    cards.fail = True
    status, body = reply(handle_event(notifier, http_event(json.dumps(firing_payload()).encode()), LOG))
    assert status == 503
    assert "DynamoDB GetItem" in body["msg"]


def test_sns_door(notifier: AlertNotifier, lark: FakeLark) -> None:
    assert handle_event(notifier, load(EVENTS / "alert_sns_alarm.json"), LOG) == {
        "deliveries": [
            {"group": "cloudwatch:lark-service-dev-DeadLetterQueueAlarm-1XK2ZQ7V9J3PA", "outcome": "posted"}
        ]
    }
    result = handle_event(notifier, load(EVENTS / "alert_sns_ok.json"), LOG)
    assert result["deliveries"][0]["outcome"] == "updated"
    assert list(lark.cards) == ["om_1"]
    assert lark.cards["om_1"]["header"]["template"] == "green"
    with pytest.raises(MalformedAlert, match="neither"):
        handle_event(notifier, {"hello": 1}, LOG)


def test_group_key_is_stable_across_notifications() -> None:
    assert isinstance(parse_message(firing_payload()), AlertGroup)
    assert parse_message(firing_payload()).key == parse_message(resolved_payload()).key
