"""``DynamoDedupeStore`` when DynamoDB fails or answers less than expected, against moto's server.

The error messages are what an operator reads in the webhook's log and 503 reply: the DynamoDB
operation and its error code (``ResourceNotFoundException`` is DynamoDB's code for a missing
table, DynamoDB API reference "Common errors"), never a stack trace or the request.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lark_service.devtools.local.aws import Stack
from lark_service.stores import DependencyError
from lark_service.stores.aws import reset_clients
from lark_service.stores.dedupe import Claim, DynamoDedupeStore, _holder

T0 = 1_800_000_000.0
KEY = "webhook#evt-failures"

pytestmark = pytest.mark.integration


@pytest.fixture
def gone(stack: Stack) -> DynamoDedupeStore:
    reset_clients()
    return DynamoDedupeStore("no-such-table", clock=lambda: T0)


def test_each_operation_names_itself_and_dynamodb_s_error_code(gone: DynamoDedupeStore) -> None:
    calls = {
        "PutItem": lambda: gone.claim(KEY, "a", T0 + 60),
        "UpdateItem": lambda: gone.confirm(KEY, "a"),
        "DeleteItem": lambda: gone.release(KEY, "a"),
        "DescribeTable": gone.check,
    }
    for operation, call in calls.items():
        with pytest.raises(DependencyError) as raised:
            call()
        assert str(raised.value) == f"DynamoDB {operation} failed (ResourceNotFoundException)"


def test_a_release_that_meets_no_record_is_quiet(stack: Stack) -> None:
    reset_clients()
    store = DynamoDedupeStore(stack.idempotency_table, clock=lambda: T0)
    store.release(KEY, "never-claimed")  # the condition fails on a missing item: nothing to drop
    assert store.claim(KEY, "a", T0 + 60) is Claim.CLAIMED


class _Recording:
    """boto3's DynamoDB client, with each call's parameters kept (the answers are moto's)."""

    def __init__(self, endpoint: str) -> None:
        self._client = boto3.client("dynamodb", endpoint_url=endpoint)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call


def test_the_lease_is_read_back_by_its_own_name(stack: Stack) -> None:
    """A crashed claim is taken over once ``in_progress_expiration`` has passed, not before."""
    now = [T0]
    ddb = _Recording(stack.endpoint)
    store = DynamoDedupeStore(stack.idempotency_table, lease_seconds=10, dynamodb=ddb, clock=lambda: now[0])
    assert store.claim(KEY, "crashed", T0 + 3600) is Claim.CLAIMED
    now[0] = T0 + 9.9
    assert store.claim(KEY, "retry", T0 + 3600) is Claim.BUSY
    now[0] = T0 + 10.1
    assert store.claim(KEY, "retry", T0 + 3600) is Claim.CLAIMED
    put = ddb.calls[0][1]
    assert put["Item"]["in_progress_expiration"] == {"N": "1800000010.000"}
    assert put["ExpressionAttributeValues"][":now"] == {"N": "1800000000.000"}
    assert put["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


@pytest.mark.parametrize(
    ("item", "verdict"),
    [
        ({}, Claim.BUSY),  # no record came back with the failure: not ours, not known done
        ({"status": {"S": "COMPLETED"}}, Claim.DUPLICATE),  # written before claims had ids
        ({"status": {"S": "IN_PROGRESS"}}, Claim.BUSY),
        ({"claim": {"S": "mine"}}, Claim.CLAIMED),
        ({"claim": {"S": "other"}, "status": {"S": "COMPLETED"}}, Claim.DUPLICATE),
        ({"claim": {"S": "mine"}, "status": {"S": "COMPLETED"}}, Claim.CLAIMED),
    ],
)
def test_what_a_failed_claim_s_old_record_means(item: dict[str, Any], verdict: Claim) -> None:
    assert _holder(item, "mine") is verdict
