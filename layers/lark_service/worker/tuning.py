"""The worker's own settings: its queues, the redrive limit, and how long runs are remembered."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from lark_service.config import parse_environment

DAY = 24 * 60 * 60
QUEUE_RETENTION = 4 * DAY
"""template.yaml: EventsQueue MessageRetentionPeriod (345600)."""
DEAD_LETTER_RETENTION = 14 * DAY
"""template.yaml: EventsDeadLetterQueue MessageRetentionPeriod (1209600)."""


class WorkerTuning(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    # Where hopeless events go at once; without it they take the redrive path (five receives).
    dead_letter_queue_url: str | None = Field(None, alias="EVENTS_DLQ_URL")
    # Must match the queue's RedrivePolicy.maxReceiveCount (template.yaml: 5).
    max_receive_count: int = Field(5, alias="LARK_WORKER_MAX_RECEIVE_COUNT", ge=1)
    # A completed run is remembered longer than any copy of its message can live: four days on
    # the events queue, then fourteen in the DLQ. So a redrive, however late, never runs it twice.
    idempotency_ttl: int = Field(
        QUEUE_RETENTION + DEAD_LETTER_RETENTION, alias="LARK_IDEMPOTENCY_TTL_SECONDS", ge=60
    )
    # A record starts only while this much of the invocation remains: an in-process rate-limit
    # wait (10 s) and two Lark calls (5 s each) fit, so a started record is not cut off by the timeout.
    record_reserve: float = Field(20.0, alias="LARK_WORKER_RECORD_RESERVE_SECONDS", ge=0)
    # An event Lark keeps rate-limiting is put back at most this often (96 x 15 min = a day),
    # then it fails like any other and the redrive limit applies.
    max_deferrals: int = Field(96, alias="LARK_WORKER_MAX_DEFERRALS", ge=0)


def load_worker_tuning(environ: Mapping[str, str] | None = None) -> WorkerTuning:
    return parse_environment(WorkerTuning, environ)
