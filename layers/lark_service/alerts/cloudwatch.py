"""CloudWatch alarm notifications, as Lambda receives them from the stack's SNS topic.

The Lambda event is SNS's (``Records[].Sns``, with ``EventSource`` "aws:sns"; AWS Lambda
Developer Guide, "Invoking Lambda functions with Amazon SNS notifications"); the alarm itself is
the JSON string in ``Sns.Message`` that CloudWatch publishes on a state change (CloudWatch User
Guide, "Notifying users on alarm changes"). Its fields are those of aws/aws-lambda-go
``events/sns.go`` ``CloudWatchAlarmSNSPayload`` (``AlarmName``, ``AlarmDescription``,
``AWSAccountId``, ``NewStateValue``, ``NewStateReason``, ``StateChangeTime``, ``Region``,
``AlarmArn``, ``OldStateValue``, ``Trigger``), checked against that repository's
``events/testdata/cloudwatch-alarm-sns-payload-*.json``. ``Region`` is a display name ("EU -
Ireland"); the region code comes from ``AlarmArn``.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from lark_service.alerts import fields
from lark_service.alerts.model import Alert, AlertGroup, MalformedAlert

STATES = {"ALARM": "firing", "OK": "resolved"}
"""INSUFFICIENT_DATA is neither: the stack sends no notification for it (no such action)."""
SEVERITY = "critical"
"""An alarm carries no severity; the stack's alarms watch what breaks the app, so all are critical."""


def is_sns_event(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and (r.get("EventSource") == "aws:sns" or "Sns" in r) for r in records)
    )


def parse_sns_event(event: Any) -> list[AlertGroup | None]:
    """One entry per record: the alarm's group, or None for a state with no card (INSUFFICIENT_DATA)."""
    records = fields.mapping(event, "event").get("Records")
    if not isinstance(records, list) or not records:
        raise MalformedAlert("event.Records must be a non-empty list of SNS records")
    return [_record(record, f"Records[{i}]") for i, record in enumerate(records)]


def _record(doc: Any, where: str) -> AlertGroup | None:
    sns = fields.mapping(fields.mapping(doc, where).get("Sns"), f"{where}.Sns")
    raw = fields.text(sns, "Message", f"{where}.Sns")
    try:
        message = json.loads(raw)
    except json.JSONDecodeError:
        raise MalformedAlert(f"{where}.Sns.Message is not a CloudWatch alarm (not JSON)") from None
    return parse_alarm(message, f"{where}.Sns.Message")


def parse_alarm(doc: Any, where: str = "Message") -> AlertGroup | None:
    alarm = fields.mapping(doc, where)
    name = fields.text(alarm, "AlarmName", where)
    state = fields.text(alarm, "NewStateValue", where)
    if state == "INSUFFICIENT_DATA":
        return None
    if state not in STATES:
        raise MalformedAlert(f"{where}.NewStateValue must be ALARM, OK or INSUFFICIENT_DATA, got {state!r}")
    status = fields.status(STATES[state], f"{where}.NewStateValue")
    changed = fields.timestamp(alarm.get("StateChangeTime"), f"{where}.StateChangeTime")
    arn = alarm["AlarmArn"] if isinstance(alarm.get("AlarmArn"), str) else ""
    labels = {"alarm": name, **_trigger_labels(alarm.get("Trigger"))}
    for key, label in (("AWSAccountId", "account"), ("Region", "region")):
        if isinstance(alarm.get(key), str) and alarm[key]:
            labels[label] = alarm[key]
    description = alarm.get("AlarmDescription")
    reason = alarm.get("NewStateReason")
    return AlertGroup(
        key=f"cloudwatch:{name}",
        source="cloudwatch",
        status=status,
        title=name,
        alerts=[
            Alert(
                name=name,
                status=status,
                severity=SEVERITY,
                summary=description if isinstance(description, str) and description else name,
                description=reason if isinstance(reason, str) else "",
                labels=labels,
                starts_at=changed if status == "firing" else None,
                ends_at=changed if status == "resolved" else None,
            )
        ],
        link=console_url(arn, name),
    )


def _trigger_labels(trigger: Any) -> dict[str, str]:
    """The watched metric, for single-metric alarms (metric-math alarms list ``Metrics`` instead)."""
    if not isinstance(trigger, dict):
        return {}
    labels: dict[str, str] = {}
    if isinstance(trigger.get("Namespace"), str) and isinstance(trigger.get("MetricName"), str):
        labels["metric"] = f"{trigger['Namespace']}/{trigger['MetricName']}"
    for dimension in trigger.get("Dimensions") or []:
        if isinstance(dimension, dict) and isinstance(dimension.get("name"), str):
            labels[dimension["name"]] = str(dimension.get("value", ""))
    return labels


def console_url(arn: str, name: str) -> str | None:
    """The alarm's page in the CloudWatch console, for an ARN in the commercial partition."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[:3] != ["arn", "aws", "cloudwatch"]:
        return None
    region = parts[3]
    if not region or not region.replace("-", "").isalnum() or not region.islower():
        return None  # AWS's documentation examples say REGION
    quoted = urllib.parse.quote(name, safe="")
    return f"https://console.aws.amazon.com/cloudwatch/home?region={region}#alarmsV2:alarm/{quoted}"
