"""A realistic run of EMF, produced the way the functions produce it: ``emit`` and Powertools.

Run as a script it prints EMF (and ordinary log lines) on stdout, round after round, like the
webhook, worker and token refresh would: mostly healthy traffic with some 5xx, rate limits,
retries, rejected signatures, duplicates, failures and dead letters. Every catalog metric
appears in every round, so every dashboard panel has something to show.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

from aws_lambda_powertools.metrics.provider import cold_start

from lark_service.observability import emit, metrics

FUNCTIONS = ("lark-service-dev-webhook", "lark-service-dev-worker", "lark-service-dev-token-refresh")
EVENT_TYPES = ("im.message.receive_v1", "card.action.trigger", "contact.user.created_v3")
API = (("POST", "/open-apis/im/v1/messages"), ("GET", "/open-apis/contact/v3/users"))


class Context:
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"


@metrics.log_metrics(capture_cold_start_metric=True)
def webhook(event: dict[str, Any], context: object) -> None:
    rng: random.Random = event["rng"]
    for _ in range(8):
        event_type = rng.choice(EVENT_TYPES)
        emit("WebhookEventsReceived", event_type=event_type)
        emit("WebhookAckDuration", rng.uniform(0.004, 0.12), route="events")
    emit("WebhookEventsUnhandled", event_type="application.bot.menu_v6")
    emit("WebhookDuplicates", event_type=rng.choice(EVENT_TYPES))
    emit("WebhookRequestsRejected", reason=rng.choice(("bad_signature", "bad_token", "stale")))
    emit("WebhookErrors", route="events")
    emit("WebhookAckDuration", rng.uniform(0.2, 0.6), route="events")
    print('{"level":"INFO","message":"event enqueued","service":"webhook"}')


@metrics.log_metrics(capture_cold_start_metric=True)
def worker(event: dict[str, Any], context: object) -> None:
    rng: random.Random = event["rng"]
    for _ in range(6):
        event_type = rng.choice(EVENT_TYPES)
        emit("WorkerEventsProcessed", event_type=event_type)
        method, endpoint = rng.choice(API)
        status = rng.choices(("200", "500", "429"), weights=(90, 4, 6))[0]
        emit("ApiRequests", method=method, endpoint=endpoint, status=status)
        emit("ApiRequestDuration", rng.lognormvariate(-3.0, 0.6), method=method, endpoint=endpoint)
    emit("ApiRequests", method="POST", endpoint="/open-apis/im/v1/messages", status="500")
    emit("AuthRateLimitTriggered", endpoint="/open-apis/im/v1/messages")
    emit("WorkerEventsFailed", event_type="card.action.trigger")
    emit("WorkerEventsDeadLettered", event_type="card.action.trigger")


@metrics.log_metrics(capture_cold_start_metric=True)
def token_refresh(event: dict[str, Any], context: object) -> None:
    rng: random.Random = event["rng"]
    for token_type in ("tenant", "app"):
        emit("TokenRefreshRetry", token_type=token_type)
        emit("TokenRefreshSuccess", token_type=token_type)
        emit("TokenSecondsToExpiry", rng.uniform(5400, 7200), token_type=token_type)
        emit(
            "ApiRequests",
            method="POST",
            endpoint=f"/open-apis/auth/v3/{token_type}_access_token/internal",
            status="200",
        )
    emit("TokenRefreshFailure", token_type="tenant", reason="rate_limited")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=600)
    parser.add_argument("--interval", type=float, default=0.2)
    args = parser.parse_args()
    rng = random.Random(4)
    for index in range(args.rounds):
        for handler, name in zip((webhook, worker, token_refresh), FUNCTIONS, strict=True):
            if index % 25 == 0:  # a new instance of each function now and then
                cold_start.reset_cold_start_flag()
            handler({"rng": rng}, Context(name))
        sys.stdout.flush()
        time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
