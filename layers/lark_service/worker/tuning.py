"""The worker's own settings: its queues, the redrive limit, and how long runs are remembered."""

from __future__ import annotations

from collections.abc import Mapping

from lark_service.config import EnvironmentModel, Var, integer, parse_environment, seconds, text

DAY = 24 * 60 * 60
QUEUE_RETENTION = 4 * DAY
"""template.yaml: EventsQueue MessageRetentionPeriod (345600)."""
DEAD_LETTER_RETENTION = 14 * DAY
"""template.yaml: EventsDeadLetterQueue MessageRetentionPeriod (1209600)."""


class WorkerTuning(EnvironmentModel):
    """The worker's limits; each default mirrors the template's queue settings it must match."""

    # Where hopeless events go at once; without it they take the redrive path (five receives).
    dead_letter_queue_url: Var[str | None] = Var("EVENTS_DLQ_URL", text, None)
    # Must match the queue's RedrivePolicy.maxReceiveCount (template.yaml: 5).
    max_receive_count = Var("LARK_WORKER_MAX_RECEIVE_COUNT", integer(minimum=1), 5)
    # A completed run is remembered longer than any copy of its message can live: four days on
    # the events queue, then fourteen in the DLQ. So a redrive, however late, never runs it twice.
    idempotency_ttl = Var(
        "LARK_IDEMPOTENCY_TTL_SECONDS", integer(minimum=60), QUEUE_RETENTION + DEAD_LETTER_RETENTION
    )
    # A record starts only while this much of the invocation remains: an in-process rate-limit
    # wait (10 s) and two Lark calls (5 s each) fit, so a started record is not cut off by the timeout.
    record_reserve = Var("LARK_WORKER_RECORD_RESERVE_SECONDS", seconds(minimum=0), 20.0)
    # An event Lark keeps rate-limiting is put back at most this often (96 x 15 min = a day),
    # then it fails like any other and the redrive limit applies.
    max_deferrals = Var("LARK_WORKER_MAX_DEFERRALS", integer(minimum=0), 96)


def load_worker_tuning(environ: Mapping[str, str] | None = None) -> WorkerTuning:
    return parse_environment(WorkerTuning, environ)
