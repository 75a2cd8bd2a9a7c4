"""Powertools' SQS batch processor that stops starting records when time runs short.

Lambda kills an invocation at its timeout, and a killed invocation fails its whole batch: every
record, finished or not, comes back and counts a receive. So before each record the processor
looks at the remaining time; a record that might not finish is not started but reported as a
failure, so SQS redelivers it and the finished ones are deleted.

The short-circuit follows Powertools' own ``SqsFifoPartialProcessor._process_record``
(aws-powertools/powertools-lambda-python, aws_lambda_powertools/utilities/batch/
sqs_fifo_partial_processor.py): convert the record with ``_to_batch_type`` and hand it to
``failure_handler`` with an ``ExceptionInfo`` tuple, which puts it in ``batchItemFailures``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, FailureResponse, SuccessResponse


class RecordNotStarted(Exception):
    """Too little of the invocation was left to start this record; SQS redelivers it."""


NOT_STARTED = (
    RecordNotStarted,
    RecordNotStarted("too little time left in the invocation to start this record"),
    None,
)


class DeadlineBatchProcessor(BatchProcessor):
    def __init__(self, reserve_seconds: float) -> None:
        # A batch whose every record failed is still a partial response (all ids listed), not an
        # invocation error: the queue's retry and redrive treat both alike, and the reply stays exact.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self.reserve_seconds = reserve_seconds
        self.not_started: list[dict[str, Any]] = []
        self._context: Any = None

    def start(self, lambda_context: Any) -> None:
        """Remember this invocation's context (None outside Lambda: no deadline)."""
        self._context = lambda_context
        self.not_started = []

    def seconds_left(self) -> float | None:
        remaining = getattr(self._context, "get_remaining_time_in_millis", None)
        return None if remaining is None else float(remaining()) / 1000

    def _process_record(self, record: dict[str, Any]) -> SuccessResponse | FailureResponse:
        left = self.seconds_left()
        if left is not None and left < self.reserve_seconds:
            self.not_started.append(record)
            data = self._to_batch_type(record, event_type=self.event_type, model=self.model)
            return self.failure_handler(record=data, exception=NOT_STARTED)
        return super()._process_record(record)
