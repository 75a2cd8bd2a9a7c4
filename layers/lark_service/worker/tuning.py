"""The worker's own settings: how often SQS delivers before the DLQ, and how long runs are remembered."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from lark_service.config import parse_environment


class WorkerTuning(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    # Must match the queue's RedrivePolicy.maxReceiveCount (template.yaml: 5).
    max_receive_count: int = Field(5, alias="LARK_WORKER_MAX_RECEIVE_COUNT", ge=1)
    # A completed run is remembered this long; SQS redelivery happens within minutes, the DLQ
    # redrive by an operator within days, so a week keeps a redriven event from running twice.
    idempotency_ttl: int = Field(7 * 24 * 60 * 60, alias="LARK_IDEMPOTENCY_TTL_SECONDS", ge=60)


def load_worker_tuning(environ: Mapping[str, str] | None = None) -> WorkerTuning:
    return parse_environment(WorkerTuning, environ)
