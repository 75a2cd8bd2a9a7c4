"""One SQS batch: route each envelope to its handler, once, and report only the failures.

SQS delivers at least once and Lambda may run two copies of a message at the same time, so each
run is guarded by Powertools idempotency keyed on the Lark event id: a run that completed is
answered from its record, a run in progress elsewhere makes this copy fail and come back later,
and a run that raised leaves no record, so the retry really runs. Only the failed messages are
reported back (``ReportBatchItemFailures``); the rest of the batch is not redone.

Every receive of a failed message counts toward the queue's redrive limit, so the worker keeps
two kinds of event out of that count: one Lark is only rate-limiting goes back to the queue as a
new message delayed by Lark's reset, and one that can never succeed (not an envelope, no
handler) goes to the DLQ at once.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from lark_service.app import HandlerContext, LarkApp
from lark_service.envelope import Envelope
from lark_service.lark.errors import LarkRateLimited
from lark_service.observability import emit, logger
from lark_service.stores import DependencyError
from lark_service.stores.requeue import DEFERRALS_ATTRIBUTE, MAX_DELAY_SECONDS, SqsRequeue
from lark_service.worker.batch import DeadlineBatchProcessor
from lark_service.worker.tuning import WorkerTuning


class Hopeless(Exception):
    """The message can never be processed: it is not an envelope."""

    def __init__(self, reason: str, event_type: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.event_type = event_type


class Worker:
    def __init__(
        self,
        app: LarkApp,
        context: HandlerContext,
        persistence: BasePersistenceLayer,
        *,
        tuning: WorkerTuning,
        requeue: SqsRequeue | None,
    ) -> None:
        self._app = app
        self._context = context
        self._tuning = tuning
        self._requeue = requeue
        self._config = IdempotencyConfig(
            event_key_jmespath="event_id",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=tuning.idempotency_ttl,
        )
        self._run_once = idempotent_function(
            data_keyword_argument="event",
            persistence_store=persistence,
            config=self._config,
            key_prefix="worker",
        )(self._run)
        self._processor = DeadlineBatchProcessor(tuning.record_reserve)

    def handle(self, event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        self._config.register_lambda_context(lambda_context)
        self._context.lambda_context = lambda_context
        self._processor.start(lambda_context)
        result = process_partial_response(
            event=event, record_handler=self._record, processor=self._processor, context=lambda_context
        )
        self._report_not_started()
        return dict(result)

    def _record(self, record: SQSRecord) -> None:
        try:
            self._process(record)
        finally:
            logger.set_correlation_id(None)

    def _process(self, record: SQSRecord) -> None:
        receives = int(record.attributes.approximate_receive_count or 1)
        event_type = "invalid"
        try:
            envelope = self._envelope(record.body)
            event_type = envelope.event_type
            if self._app.handler_for(envelope) is None:
                # Lark pushes only subscribed types, and the webhook queues every verified one:
                # a type nobody handles is counted and dropped, never retried or dead-lettered.
                emit("WorkerEventsUnhandled", event_type=event_type)
                logger.info("no handler for event type; dropped", extra={"event_type": event_type})
                return
            self._run_once(event=asdict(envelope))
        except Hopeless as exc:
            if not self._dead_letter(record, exc):
                self._failed(record, exc.event_type, receives, exc)
                raise
        except LarkRateLimited as exc:
            if not self._defer(record, event_type, exc):
                self._failed(record, event_type, receives, exc)
                raise
        except IdempotencyAlreadyInProgressError:
            # Another instance is running this very event; our copy comes back after the
            # visibility timeout and is then answered from the completed record.
            logger.info("event already in progress elsewhere", extra={"message_id": record.message_id})
            self._last_receive(receives, event_type)
            raise
        except Exception as exc:
            self._failed(record, event_type, receives, exc)
            raise

    def _envelope(self, body: str) -> Envelope:
        try:
            envelope = Envelope.from_json(body)
        except (ValueError, RecursionError) as exc:
            raise Hopeless(
                "unparseable", "invalid", f"not an envelope: {type(exc).__name__}: {exc}"
            ) from None
        # Every log line from here on, the Lark calls' included, names the event.
        logger.set_correlation_id(envelope.event_id)
        return envelope

    def _dead_letter(self, record: SQSRecord, hopeless: Hopeless) -> bool:
        """Send a hopeless message to the DLQ now; False if that is impossible (redrive instead)."""
        if self._requeue is None:
            return False
        try:
            self._requeue.dead_letter(record.body, reason=hopeless.reason)
        except DependencyError as exc:
            logger.warning("could not dead-letter the event; the redrive will", extra={"error": str(exc)})
            return False
        emit("WorkerEventsDeadLettered", event_type=hopeless.event_type)
        logger.error(
            "event can never be processed; sent to the dead-letter queue",
            extra={
                "message_id": record.message_id,
                "event_type": hopeless.event_type,
                "reason": hopeless.reason,
                "error": str(hopeless),
            },
        )
        return True

    def _defer(self, record: SQSRecord, event_type: str, limited: LarkRateLimited) -> bool:
        """Put a rate-limited event back as a new, delayed message; False if it must fail instead."""
        # Lambda's SQS record: messageAttributes: {name: {"stringValue": ..., "dataType": ...}}.
        attribute = (record.raw_event.get("messageAttributes") or {}).get(DEFERRALS_ATTRIBUTE) or {}
        value = attribute.get("stringValue")
        deferrals = int(value) if isinstance(value, str) and value.isdigit() else 0
        if self._requeue is None or deferrals >= self._tuning.max_deferrals:
            return False
        delay = math.ceil(min(float(MAX_DELAY_SECONDS), max(1.0, limited.reset_seconds)))
        try:
            self._requeue.defer(record.body, delay_seconds=delay, deferrals=deferrals + 1)
        except DependencyError as exc:
            logger.warning("could not put the event back; it is retried instead", extra={"error": str(exc)})
            return False
        emit("WorkerEventsDeferred", event_type=event_type, reason="rate_limited")
        logger.warning(
            "Lark rate-limited the event; it runs again after the reset",
            extra={
                "message_id": record.message_id,
                "event_type": event_type,
                "endpoint": limited.endpoint,
                "delay_seconds": delay,
                "deferrals": deferrals + 1,
            },
        )
        return True

    def _failed(self, record: SQSRecord, event_type: str, receives: int, exc: Exception) -> None:
        emit("WorkerEventsFailed", event_type=event_type)
        logger.exception(
            "event failed",
            extra={
                "message_id": record.message_id,
                "event_type": event_type,
                "receive_count": receives,
                "error": type(exc).__name__,
            },
        )
        self._last_receive(receives, event_type)

    def _last_receive(self, receives: int, event_type: str) -> None:
        if receives >= self._tuning.max_receive_count:
            emit("WorkerEventsDeadLettered", event_type=event_type)
            logger.error("event goes to the dead-letter queue next", extra={"event_type": event_type})

    def _report_not_started(self) -> None:
        skipped = self._processor.not_started
        if not skipped:
            return
        for raw in skipped:
            emit(
                "WorkerEventsDeferred", event_type=self._label(str(raw.get("body", ""))), reason="out_of_time"
            )
        logger.warning(
            "too little time left; records returned to the queue unstarted",
            extra={
                "message_ids": [r.get("messageId") for r in skipped],
                "seconds_left": self._processor.seconds_left(),
            },
        )

    def _label(self, body: str) -> str:
        """A record's event type for a metric, without running it; bounded like every other label."""
        try:
            event_type = Envelope.from_json(body).event_type
        except ValueError:
            return "invalid"
        return event_type

    def _run(self, event: dict[str, Any]) -> dict[str, Any]:
        envelope = Envelope(**event)
        handler = self._app.handler_for(envelope)
        if handler is None:  # checked before the run; a handler cannot unregister in between
            raise LookupError(f"no handler for {envelope.event_type!r}")
        handler(envelope, self._context)
        emit("WorkerEventsProcessed", event_type=envelope.event_type)
        logger.info(
            "event processed", extra={"event_type": envelope.event_type, "event_id": envelope.event_id}
        )
        return {"event_type": envelope.event_type}
