"""Pure parts of the local runner's worker side: schedule parsing and partial-batch responses."""

from __future__ import annotations

import pytest

from lark_service.handlers.demo.echo_bot import reply_text
from lark_service.local.poller import _failed_ids
from lark_service.local.scheduler import rate_seconds, scheduled_event


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(10 minutes)", 600), ("rate(1 minute)", 60), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate_expressions(expression: str, seconds: float) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize(
    "expression", ["rate(1 minutes)", "rate(5 minute)", "cron(0 * * * ? *)", "rate(0 minutes)"]
)
def test_bad_rate_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        rate_seconds(expression)


def test_scheduled_event_shape() -> None:
    event = scheduled_event(0)
    assert event["detail-type"] == "Scheduled Event"
    assert event["time"] == "1970-01-01T00:00:00Z"


def test_partial_batch_response_is_read_as_lambda_reads_it() -> None:
    batch = {"a", "b"}
    assert _failed_ids({"batchItemFailures": []}, batch) == set()
    assert _failed_ids(None, batch) == set()
    assert _failed_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, batch) == {"a"}
    # Anything Lambda cannot read fails the whole batch.
    assert _failed_ids({"batchItemFailures": [{"itemIdentifier": "zz"}]}, batch) == batch
    assert _failed_ids({"batchItemFailures": "a"}, batch) == batch
    assert _failed_ids("ok", batch) == batch


def test_demo_bot_text() -> None:
    assert reply_text("@_user_1 hello there") == "You said: hello there"
    assert reply_text("@_user_1 ").startswith("Hello!")
