"""The worker's and the refresh's timing rules hold against the stack template.yaml deploys."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lark_service.config import ConfigError
from lark_service.tokens.refresh_job import SAFETY_MARGIN
from lark_service.tokens.tuning import load_tuning
from lark_service.worker.tuning import DEAD_LETTER_RETENTION, QUEUE_RETENTION, load_worker_tuning
from tests.conftest import ROOT


class _CloudFormation(yaml.SafeLoader):
    """Keeps ``!Ref X`` and ``!GetAtt A.B`` as CloudFormation's own JSON forms."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CloudFormation.add_multi_constructor("!", _tag)
TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)
RESOURCES = TEMPLATE["Resources"]
WORKER = RESOURCES["WorkerFunction"]["Properties"]


def test_retention_constants_are_the_templates() -> None:
    assert RESOURCES["EventsQueue"]["Properties"]["MessageRetentionPeriod"] == QUEUE_RETENTION
    assert RESOURCES["EventsDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == DEAD_LETTER_RETENTION


def test_a_completed_run_is_remembered_longer_than_any_copy_of_its_message_lives() -> None:
    """A copy waits at most the queue's retention, then the DLQ's: a redrive must still find the record."""
    queue = RESOURCES["EventsQueue"]["Properties"]["MessageRetentionPeriod"]
    dlq = RESOURCES["EventsDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]
    assert load_worker_tuning({}).idempotency_ttl >= queue + dlq


def test_the_worker_knows_the_queues_redrive_limit() -> None:
    redrive = RESOURCES["EventsQueue"]["Properties"]["RedrivePolicy"]
    assert load_worker_tuning({}).max_receive_count == redrive["maxReceiveCount"]


def test_the_worker_can_reach_both_queues() -> None:
    env = {
        **TEMPLATE["Globals"]["Function"]["Environment"]["Variables"],
        **WORKER["Environment"]["Variables"],
    }
    assert env["EVENTS_QUEUE_URL"] == {"Ref": "EventsQueue"}
    assert env["EVENTS_DLQ_URL"] == {"Ref": "EventsDeadLetterQueue"}
    statements = [
        s
        for policy in WORKER["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for s in policy["Statement"]
    ]
    (send,) = [s for s in statements if s["Action"] == "sqs:SendMessage"]
    assert send["Resource"] == [
        {"Fn::GetAtt": "EventsQueue.Arn"},
        {"Fn::GetAtt": "EventsDeadLetterQueue.Arn"},
    ]


def test_the_worker_concurrency_is_capped_by_a_parameter() -> None:
    """SQS event source ScalingConfig.MaximumConcurrency accepts 2 to 1000 (Lambda API reference)."""
    source = WORKER["Events"]["Queue"]["Properties"]
    assert source["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaxConcurrency"}}
    parameter = TEMPLATE["Parameters"]["WorkerMaxConcurrency"]
    assert parameter["MinValue"] >= 2
    assert parameter["MaxValue"] <= 1000
    assert parameter["MinValue"] <= parameter["Default"] <= parameter["MaxValue"]


def test_a_record_can_start_within_the_workers_timeout() -> None:
    assert load_worker_tuning({}).record_reserve < WORKER["Timeout"]


def test_the_refresh_has_time_for_at_least_one_call() -> None:
    timeout = RESOURCES["TokenRefreshFunction"]["Properties"]["Timeout"]
    assert timeout - SAFETY_MARGIN >= load_tuning({}).call_seconds


def test_a_lease_too_short_for_one_call_is_refused_naming_the_variables() -> None:
    with pytest.raises(ConfigError, match=r"LARK_TOKEN_LOCK_LEASE_SECONDS.*LARK_HTTP_TIMEOUT_SECONDS"):
        load_tuning({"LARK_HTTP_TIMEOUT_SECONDS": "8", "LARK_TOKEN_LOCK_LEASE_SECONDS": "10"})
