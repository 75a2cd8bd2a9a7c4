"""The local stack is shaped like template.yaml: TTL on, redrive to the DLQ."""

from __future__ import annotations

import json

import boto3
import pytest

from lark_service.devtools.local.aws import MAX_RECEIVE_COUNT, Stack

pytestmark = pytest.mark.integration


def test_tables_have_ttl_and_queue_redrives(stack: Stack) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint)
    ttl = ddb.describe_time_to_live(TableName=stack.idempotency_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint)
    attrs = sqs.get_queue_attributes(QueueUrl=stack.events_queue_url, AttributeNames=["RedrivePolicy"])
    policy = json.loads(attrs["Attributes"]["RedrivePolicy"])
    assert policy["maxReceiveCount"] == MAX_RECEIVE_COUNT
    assert policy["deadLetterTargetArn"].endswith(stack.dead_letter_queue_url.rsplit("/", 1)[-1])
