"""What the worker tells the dashboards and Powertools: each outcome's metric, labelled by event type.

The records follow Lambda's SQS event (``tests/events/worker_sqs_message.json``); the idempotency
record is Powertools' own (``BasePersistenceLayer``: the key is ``<prefix>#<md5 of the JSON of the
jmespath result>``, ``persistence/base.py`` ``_get_hashed_idempotency_key`` and ``_generate_hash``;
a missing key raises ``IdempotencyKeyError`` when ``raise_on_no_idempotency_key`` is set).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import idempotent_function

from lark_service.app import HandlerContext, LarkApp
from lark_service.config import load_settings
from lark_service.envelope import Envelope
from lark_service.lark.errors import LarkRateLimited
from lark_service.observability import emit, logger
from lark_service.stores import DependencyError
from lark_service.tokens.store import TokenStore
from lark_service.worker.processor import Worker
from lark_service.worker.tuning import load_worker_tuning
from tests.conftest import EVENTS
from tests.unit import test_worker_batch as batch
from tests.unit.metric_recorder import Emitted, record_metrics

TYPE = "im.message.receive_v1"
TTL = 7 * 3600  # not Powertools' default (3600 s), so the setting is seen to be passed


class Handled:
    """The handler under test: records what it got, then does what the test says."""

    def __init__(self) -> None:
        self.seen: list[tuple[Envelope, HandlerContext, Any]] = []
        self.then: Callable[[], None] = lambda: None

    def __call__(self, envelope: Envelope, context: HandlerContext) -> None:
        self.seen.append((envelope, context, context.lambda_context))
        self.then()


class FailingRequeue(batch.ListRequeue):
    def defer(self, body: str, *, delay_seconds: int, deferrals: int) -> None:
        raise DependencyError("SQS SendMessage failed (ServiceUnavailable)")

    def dead_letter(self, body: str, *, reason: str) -> None:
        raise DependencyError("SQS SendMessage failed (ServiceUnavailable)")


def _worker(
    handled: Handled, requeue: batch.ListRequeue | None, **env: str
) -> tuple[Worker, batch.MemoryPersistence, HandlerContext]:
    app = LarkApp()
    app.event(TYPE)(handled)
    settings = load_settings({"LARK_APP_ID": "cli_test_app", "LARK_APP_SECRET": "s"})
    context = HandlerContext(settings=settings, lark=None, tokens=TokenStore("unused"), log=logger, emit=emit)  # type: ignore[arg-type]
    persistence = batch.MemoryPersistence()
    tuning = load_worker_tuning({"LARK_IDEMPOTENCY_TTL_SECONDS": str(TTL), **env})
    return Worker(app, context, persistence, tuning=tuning, requeue=requeue), persistence, context  # type: ignore[arg-type]


def _event(
    bodies: list[str], receives: list[str] | None = None, attributes: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    template = json.loads((EVENTS / "worker_sqs_message.json").read_text())["Records"][0]
    records = []
    for n, body in enumerate(bodies):
        record = {**template, "messageId": f"m{n}", "body": body}
        record["attributes"] = {
            **template["attributes"],
            "ApproximateReceiveCount": (receives or ["1"] * len(bodies))[n],
        }
        record["messageAttributes"] = (attributes or [{}] * len(bodies))[n]
        records.append(record)
    return {"Records": records}


def _envelope(event_id: str = "ev-1", event_type: str = TYPE) -> Envelope:
    return Envelope("event", "2.0", event_id, event_type, "tenant-1", 1.0, {"event": {"x": 1}})


def test_a_processed_event_is_counted_by_type_and_its_run_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    handled = Handled()
    worker, persistence, context = _worker(handled, batch.ListRequeue())
    lambda_context = batch.Context(left_seconds=25.0)
    started = time.time()
    assert worker.handle(_event([_envelope().to_json()]), lambda_context) == {"batchItemFailures": []}

    [(envelope, given, seen_lambda_context)] = handled.seen
    assert envelope == _envelope()
    assert given is context
    assert seen_lambda_context is lambda_context
    assert emitted.calls == [("WorkerEventsProcessed", 1.0, {"event_type": TYPE})]

    key = "worker#" + hashlib.md5(json.dumps("ev-1").encode()).hexdigest()
    record = persistence.items[key]
    assert record.status == "COMPLETED"
    assert json.loads(record.response_data) == {"event_type": TYPE}
    assert started + TTL - 1 <= record.expiry_timestamp <= time.time() + TTL + 1


def test_the_run_in_progress_lasts_as_long_as_the_invocation() -> None:
    """Powertools sets the in-progress expiry from the registered Lambda context's remaining time."""
    handled = Handled()
    worker, persistence, _ = _worker(handled, batch.ListRequeue())
    seen: list[int | None] = []
    handled.then = lambda: seen.extend(r.in_progress_expiry_timestamp for r in persistence.items.values())
    before_ms = time.time() * 1000
    worker.handle(_event([_envelope().to_json()]), batch.Context(left_seconds=25.0))
    [expiry] = seen
    assert expiry is not None
    assert before_ms + 25_000 - 1000 <= expiry <= time.time() * 1000 + 25_000


def test_an_event_without_an_id_is_refused_not_run() -> None:
    handled = Handled()
    worker, persistence, _ = _worker(handled, batch.ListRequeue())
    result = worker.handle(_event([_envelope(event_id="").to_json()]), batch.Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert handled.seen == []
    assert persistence.items == {}


def test_an_unhandled_type_is_counted_and_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    worker, _, _ = _worker(Handled(), batch.ListRequeue())
    body = _envelope(event_type="contact.user.created_v3").to_json()
    assert worker.handle(_event([body]), batch.Context()) == {"batchItemFailures": []}
    assert emitted.calls == [("WorkerEventsUnhandled", 1.0, {"event_type": "contact.user.created_v3"})]


def test_a_failed_event_is_counted_by_its_type_and_dead_lettered_on_its_last_receive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    handled = Handled()

    def boom() -> None:
        raise RuntimeError("handler bug")

    handled.then = boom
    worker, _, _ = _worker(handled, batch.ListRequeue(), LARK_WORKER_MAX_RECEIVE_COUNT="3")
    bodies = [_envelope("a").to_json(), _envelope("b").to_json(), _envelope("c").to_json()]
    result = worker.handle(_event(bodies, receives=["2", "3", "4"]), batch.Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{n}"} for n in range(3)]}
    assert emitted.calls == [
        ("WorkerEventsFailed", 1.0, {"event_type": TYPE}),
        ("WorkerEventsFailed", 1.0, {"event_type": TYPE}),
        ("WorkerEventsDeadLettered", 1.0, {"event_type": TYPE}),
        ("WorkerEventsFailed", 1.0, {"event_type": TYPE}),
        ("WorkerEventsDeadLettered", 1.0, {"event_type": TYPE}),
    ]


def test_a_hopeless_message_without_a_dlq_fails_as_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    worker, _, _ = _worker(Handled(), None, LARK_WORKER_MAX_RECEIVE_COUNT="5")
    result = worker.handle(_event(["not json", '{"kind": "event"}'], receives=["5", "1"]), batch.Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert emitted.calls == [
        ("WorkerEventsFailed", 1.0, {"event_type": "invalid"}),
        ("WorkerEventsDeadLettered", 1.0, {"event_type": "invalid"}),
        ("WorkerEventsFailed", 1.0, {"event_type": "invalid"}),
    ]


def test_a_hopeless_message_goes_to_the_dlq_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    requeue = batch.ListRequeue()
    worker, _, _ = _worker(Handled(), requeue)
    result = worker.handle(_event(["[1, 2]", '{"kind": "event"}']), batch.Context())
    assert result == {"batchItemFailures": []}
    assert requeue.dead == [("[1, 2]", "unparseable"), ('{"kind": "event"}', "unparseable")]
    assert emitted.calls == [("WorkerEventsDeadLettered", 1.0, {"event_type": "invalid"})] * 2
    logged = [r for r in caplog.records if r.getMessage().startswith("event can never be processed")]
    assert [getattr(r, "error", None) for r in logged] == [
        "not an envelope: ValueError: envelope is not a JSON object",
        "not an envelope: ValueError: envelope is missing or mistypes 'schema'",
    ]


def test_when_the_dlq_is_unreachable_the_hopeless_message_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    worker, _, _ = _worker(Handled(), FailingRequeue())
    assert worker.handle(_event(["not json"]), batch.Context()) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert emitted.calls == [("WorkerEventsFailed", 1.0, {"event_type": "invalid"})]


def _limited_handler(reset: float) -> Handled:
    handled = Handled()

    def limited() -> None:
        raise LarkRateLimited("/open-apis/im/v1/messages/:message_id/reply", 429, 99991400, "limit", reset)

    handled.then = limited
    return handled


def test_a_rate_limited_event_is_deferred_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    requeue = batch.ListRequeue()
    worker, _, _ = _worker(_limited_handler(7.0), requeue)
    body = _envelope().to_json()
    deferred_before = [{"lark-deferrals": {"stringValue": "4", "dataType": "Number"}}]
    assert worker.handle(_event([body], attributes=deferred_before), batch.Context()) == {
        "batchItemFailures": []
    }
    assert requeue.deferred == [(body, 7, 5)]
    assert emitted.calls == [("WorkerEventsDeferred", 1.0, {"event_type": TYPE, "reason": "rate_limited"})]


@pytest.mark.parametrize(
    "attribute",
    [
        {},
        {"lark-deferrals": {"dataType": "Number"}},
        {"lark-deferrals": {"stringValue": "x", "dataType": "String"}},
        {"lark-deferrals": {"stringValue": "-1", "dataType": "Number"}},
        {"lark-deferrals": None},
    ],
)
def test_an_unreadable_deferral_count_counts_as_none(attribute: dict[str, Any]) -> None:
    requeue = batch.ListRequeue()
    worker, _, _ = _worker(_limited_handler(2.0), requeue)
    body = _envelope().to_json()
    assert worker.handle(_event([body], attributes=[attribute]), batch.Context()) == {"batchItemFailures": []}
    assert requeue.deferred == [(body, 2, 1)]


def test_an_event_that_cannot_be_put_back_fails_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    worker, _, _ = _worker(_limited_handler(2.0), FailingRequeue())
    result = worker.handle(_event([_envelope().to_json()]), batch.Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert emitted.calls == [("WorkerEventsFailed", 1.0, {"event_type": TYPE})]


def test_with_no_deferrals_allowed_a_limit_fails_at_once() -> None:
    requeue = batch.ListRequeue()
    worker, _, _ = _worker(_limited_handler(2.0), requeue, LARK_WORKER_MAX_DEFERRALS="0")
    result = worker.handle(_event([_envelope().to_json()]), batch.Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert requeue.deferred == []


def test_records_not_started_are_counted_by_their_type(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted: Emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    handled = Handled()
    worker, _, _ = _worker(handled, batch.ListRequeue(), LARK_WORKER_RECORD_RESERVE_SECONDS="5")
    bodies = [_envelope("a").to_json(), "not json", _envelope("c", "contact.user.created_v3").to_json()]
    result = worker.handle(_event(bodies), batch.Context(left_seconds=1.0))
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{n}"} for n in range(3)]}
    assert handled.seen == []
    assert emitted.calls == [
        ("WorkerEventsDeferred", 1.0, {"event_type": TYPE, "reason": "out_of_time"}),
        ("WorkerEventsDeferred", 1.0, {"event_type": "invalid", "reason": "out_of_time"}),
        ("WorkerEventsDeferred", 1.0, {"event_type": "contact.user.created_v3", "reason": "out_of_time"}),
    ]


def test_an_event_in_progress_elsewhere_fails_and_counts_its_last_receive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two instances, one idempotency table: the second copy meets the first's live run."""
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    first, second = Handled(), Handled()
    worker, persistence, _ = _worker(first, batch.ListRequeue())
    other, _, _ = _worker(second, batch.ListRequeue(), LARK_WORKER_MAX_RECEIVE_COUNT="2")
    body = _envelope().to_json()
    answers: list[dict[str, Any]] = []
    first.then = lambda: answers.append(other.handle(_event([body], receives=["2"]), batch.Context()))
    monkeypatch.setattr(other, "_run_once", _sharing(other, persistence))
    assert worker.handle(_event([body]), batch.Context()) == {"batchItemFailures": []}
    assert answers == [{"batchItemFailures": [{"itemIdentifier": "m0"}]}]
    assert len(first.seen) == 1
    assert second.seen == []
    assert emitted.calls == [
        ("WorkerEventsDeadLettered", 1.0, {"event_type": TYPE}),
        ("WorkerEventsProcessed", 1.0, {"event_type": TYPE}),
    ]


def _sharing(worker: Worker, persistence: batch.MemoryPersistence) -> Callable[..., Any]:
    """The worker's own idempotent run, over another instance's table."""
    return idempotent_function(  # type: ignore[no-any-return]
        data_keyword_argument="event",
        persistence_store=persistence,
        config=worker._config,
        key_prefix="worker",
    )(worker._run)


def test_a_rate_limited_event_that_cannot_be_deferred_counts_its_last_receive(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.worker.processor")
    worker, _, _ = _worker(_limited_handler(2.0), None, LARK_WORKER_MAX_RECEIVE_COUNT="3")
    result = worker.handle(_event([_envelope().to_json()], receives=["3"]), batch.Context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert emitted.calls == [
        ("WorkerEventsFailed", 1.0, {"event_type": TYPE}),
        ("WorkerEventsDeadLettered", 1.0, {"event_type": TYPE}),
    ]
    [failed] = [r for r in caplog.records if r.getMessage() == "event failed"]
    assert (failed.message_id, failed.event_type, failed.receive_count, failed.error) == (  # type: ignore[attr-defined]
        "m0",
        TYPE,
        3,
        "LarkRateLimited",
    )


def test_a_failure_s_log_line_names_the_message_its_type_and_the_error_class(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handled = Handled()

    def boom() -> None:
        raise KeyError("secret detail stays out")

    handled.then = boom
    worker, _, _ = _worker(handled, None)
    worker.handle(_event([_envelope().to_json(), "not json"], receives=["2", "4"]), batch.Context())
    failed = [r for r in caplog.records if r.getMessage() == "event failed"]
    assert [(r.message_id, r.event_type, r.receive_count, r.error) for r in failed] == [  # type: ignore[attr-defined]
        ("m0", TYPE, 2, "KeyError"),
        ("m1", "invalid", 4, "Hopeless"),
    ]
