"""One SQS batch: route each envelope to its handler, once, and report only the failures.

SQS delivers at least once and Lambda may run two copies of a message at the same time, so each
run is guarded by Powertools idempotency keyed on the Lark event id: a run that completed is
answered from its record, a run in progress elsewhere makes this copy fail and come back later,
and a run that raised leaves no record, so the retry really runs. Only the failed messages are
reported back (``ReportBatchItemFailures``); the rest of the batch is not redone.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from lark_service.app import HandlerContext, LarkApp
from lark_service.envelope import Envelope
from lark_service.observability import emit, logger


class Worker:
    def __init__(
        self,
        app: LarkApp,
        context: HandlerContext,
        persistence: BasePersistenceLayer,
        *,
        max_receive_count: int,
        idempotency_ttl: int,
    ) -> None:
        self._app = app
        self._context = context
        self._max_receive_count = max_receive_count
        self._config = IdempotencyConfig(
            event_key_jmespath="event_id",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=idempotency_ttl,
        )
        self._run_once = idempotent_function(
            data_keyword_argument="event",
            persistence_store=persistence,
            config=self._config,
            key_prefix="worker",
        )(self._run)
        # A batch whose every record failed is still a partial response (all ids listed), not an
        # invocation error: the queue's retry and redrive treat both alike, and the reply stays exact.
        self._processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle(self, event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        self._config.register_lambda_context(lambda_context)
        self._context.lambda_context = lambda_context
        result = process_partial_response(
            event=event, record_handler=self._record, processor=self._processor, context=lambda_context
        )
        return dict(result)

    def _record(self, record: SQSRecord) -> None:
        receives = int(record.attributes.approximate_receive_count or 1)
        event_type = "invalid"
        try:
            envelope = Envelope.from_json(record.body)
            event_type = envelope.event_type
            if self._app.handler_for(envelope) is None:
                # Lark pushes only subscribed types, and the webhook queues every verified one:
                # a type nobody handles is counted and dropped, never retried or dead-lettered.
                emit("WorkerEventsUnhandled", event_type=event_type)
                logger.info("no handler for event type; dropped", extra={"event_type": event_type})
                return
            self._run_once(event=asdict(envelope))
        except IdempotencyAlreadyInProgressError:
            # Another instance is running this very event; our copy comes back after the
            # visibility timeout and is then answered from the completed record.
            logger.info("event already in progress elsewhere", extra={"message_id": record.message_id})
            self._last_receive(receives, event_type)
            raise
        except Exception as exc:
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
            raise

    def _last_receive(self, receives: int, event_type: str) -> None:
        if receives >= self._max_receive_count:
            emit("WorkerEventsDeadLettered", event_type=event_type)
            logger.error("event goes to the dead-letter queue next", extra={"event_type": event_type})

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
