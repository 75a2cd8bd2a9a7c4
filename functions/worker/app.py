"""WorkerFunction: an SQS batch of Lark events, each run once by its registered handler."""

from __future__ import annotations

from typing import Any

from lark_service.envelope import Envelope
from lark_service.observability import annotate, count_cold_start, logger, tracer
from lark_service.wiring.worker import build_worker

worker = build_worker()


@tracer().capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    count_cold_start(context, "worker")
    annotate(**_batch_annotations(event))
    result = worker.handle(event, context)
    annotate(outcome="partial_failure" if result.get("batchItemFailures") else "ok")
    return result


def _batch_annotations(event: dict[str, Any]) -> dict[str, str]:
    """Event types and tenants of the batch, so X-Ray can find every trace of one (sorted, joined)."""
    types: set[str] = set()
    tenants: set[str] = set()
    for record in event.get("Records", []):
        try:
            envelope = Envelope.from_json(record["body"])
        except (KeyError, TypeError, ValueError):
            types.add("invalid")
            continue
        types.add(envelope.event_type)
        tenants.add(envelope.tenant_key or "none")
    return {"event_type": ",".join(sorted(types)) or "none", "tenant": ",".join(sorted(tenants)) or "none"}
