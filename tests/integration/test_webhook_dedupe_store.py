"""``DynamoDedupeStore`` against moto's server over HTTP, on a clock the test controls.

moto never runs DynamoDB's TTL sweeper, which is the worst case the store must handle anyway:
an expired record may linger, and only the conditions decide what it means.
"""

from __future__ import annotations

import boto3
import pytest

from lark_service.local.aws import Stack
from lark_service.stores.aws import reset_clients
from lark_service.stores.dedupe import LEASE_SECONDS, Claim, DynamoDedupeStore

pytestmark = pytest.mark.integration

T0 = 1_800_000_000.0
DAY = 24 * 3600
KEY = "webhook#evt-store"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(stack: Stack, clock: Clock) -> DynamoDedupeStore:
    reset_clients()
    return DynamoDedupeStore(stack.idempotency_table, clock=clock)


def _item(stack: Stack) -> dict[str, dict[str, str]] | None:
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint)
    found = ddb.get_item(TableName=stack.idempotency_table, Key={"id": {"S": KEY}}, ConsistentRead=True)
    return found.get("Item")


def test_a_claim_is_in_progress_with_a_lease_and_the_callers_expiry(
    store: DynamoDedupeStore, stack: Stack
) -> None:
    assert store.claim(KEY, "a", T0 + DAY + 0.5) is Claim.CLAIMED
    item = _item(stack)
    assert item is not None
    assert item["status"]["S"] == "IN_PROGRESS"
    assert item["claim"]["S"] == "a"
    assert int(item["expiration"]["N"]) == T0 + DAY + 1  # rounded up, never down
    assert float(item["in_progress_expiration"]["N"]) == T0 + LEASE_SECONDS
    assert LEASE_SECONDS == 10  # longer than the webhook's 5 s timeout, shorter than Lark's 15 s retry


def test_the_same_claim_again_is_ours_another_is_busy(store: DynamoDedupeStore) -> None:
    assert store.claim(KEY, "a", T0 + DAY) is Claim.CLAIMED
    assert store.claim(KEY, "a", T0 + DAY) is Claim.CLAIMED  # botocore's retry of a written PutItem
    assert store.claim(KEY, "b", T0 + DAY) is Claim.BUSY


def test_a_lapsed_lease_lets_another_delivery_take_over(store: DynamoDedupeStore, clock: Clock) -> None:
    assert store.claim(KEY, "a", T0 + DAY) is Claim.CLAIMED
    clock.now = T0 + LEASE_SECONDS  # the lease's last instant: still held
    assert store.claim(KEY, "b", T0 + DAY) is Claim.BUSY
    clock.now = T0 + LEASE_SECONDS + 0.01
    assert store.claim(KEY, "b", T0 + DAY) is Claim.CLAIMED


def test_completed_is_a_duplicate_until_expiry_whatever_the_lease(
    store: DynamoDedupeStore, clock: Clock, stack: Stack
) -> None:
    store.claim(KEY, "a", T0 + DAY)
    store.confirm(KEY, "a")
    item = _item(stack)
    assert item is not None
    assert item["status"]["S"] == "COMPLETED"
    assert "in_progress_expiration" not in item
    clock.now = T0 + 3600
    assert store.claim(KEY, "b", T0 + 3600 + DAY) is Claim.DUPLICATE
    clock.now = T0 + DAY  # expiration is not yet past
    assert store.claim(KEY, "b", T0 + 2 * DAY) is Claim.DUPLICATE
    clock.now = T0 + DAY + 1  # past its TTL, lingering (DynamoDB deletes lazily): free again
    assert store.claim(KEY, "b", T0 + 2 * DAY) is Claim.CLAIMED


def test_release_never_deletes_a_completed_record_or_anothers_claim(
    store: DynamoDedupeStore, stack: Stack
) -> None:
    store.claim(KEY, "a", T0 + DAY)
    store.release(KEY, "b")  # not b's claim
    assert _item(stack) is not None
    store.confirm(KEY, "a")
    store.release(KEY, "a")  # completed: the push is queued, the record must stay
    item = _item(stack)
    assert item is not None
    assert item["status"]["S"] == "COMPLETED"


def test_release_of_our_claim_frees_the_key(store: DynamoDedupeStore, stack: Stack) -> None:
    store.claim(KEY, "a", T0 + DAY)
    store.release(KEY, "a")
    assert _item(stack) is None
    assert store.claim(KEY, "b", T0 + DAY) is Claim.CLAIMED


def test_a_missing_table_is_a_dependency_error(stack: Stack, clock: Clock) -> None:
    from lark_service.stores import DependencyError

    reset_clients()
    gone = DynamoDedupeStore("no-such-table", clock=clock)
    for call in (lambda: gone.claim(KEY, "a", T0), lambda: gone.confirm(KEY, "a"), gone.check):
        with pytest.raises(DependencyError, match="ResourceNotFoundException"):
            call()
