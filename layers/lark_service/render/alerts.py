"""The Prometheus alerts and their runbooks, defined once.

``monitoring/prometheus/rules/alerts.yml`` and the runbook section of ``docs/monitoring.md`` are
rendered from this list, so an alert cannot change without its runbook. Alerts read only recorded
series (``render.rules``), so they fire the same way on the local receiver and on the CloudWatch
exporter. Each ``for`` plus the window of its expression adds up to what the summary promises.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark_service.metrics.catalog import CATALOG, DEAD_LETTER_QUEUE_REGEX
from lark_service.render.rules import (
    API_ERROR_RATIO,
    DLQ_DEPTH,
    REFRESH_SUCCESSES,
    WEBHOOK_ERROR_RATIO,
    WORKER_ERROR_RATIO,
    gauge_series,
    rate_series,
)

GROUP = "lark_service_alerts"
RUNBOOK_PAGE = "docs/monitoring.md"


def _rate(emf_name: str) -> str:
    return rate_series(next(spec for spec in CATALOG if spec.emf_name == emf_name))


@dataclass(frozen=True, slots=True)
class Runbook:
    meaning: str
    checks: tuple[str, ...]
    fixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    name: str
    expr: str
    duration: str | None
    severity: str
    summary: str
    description: str
    runbook: Runbook

    @property
    def anchor(self) -> str:
        """The heading anchor GitHub gives ``### <name>`` in the docs."""
        return self.name.lower()


ALERTS: tuple[Alert, ...] = (
    Alert(
        "LarkWebhookErrorRateHigh",
        f"{WEBHOOK_ERROR_RATIO} > 0.05",
        "5m",
        "critical",
        "More than 5 % of webhook replies are 5xx; Lark is retrying them.",
        "The store or the queue is failing. Check the webhook's logs and the health URL.",
        Runbook(
            "Pushes are answered 500/503 because DynamoDB, SQS or Secrets Manager failed (or a bug "
            "raised). Lark retries them (15 s, 5 min, 1 h, 6 h), so nothing is lost yet.",
            (
                "`curl $HealthUrl`: which check is not `ok` (config, table, queue)?",
                "The webhook's log group: `unexpected error` tracebacks or AWS error codes.",
                "The Webhook Error Rate gauge and Webhook Ack Latency: all routes or one?",
            ),
            (
                "Throttling: raise the table's or account's limits; a deleted queue or table: redeploy the stack.",
                "A bug: roll back to the previous image (`sam deploy` with the earlier tag).",
            ),
        ),
    ),
    Alert(
        "LarkWebhookRejectedSignatureSpike",
        f'sum({_rate("WebhookRequestsRejected")}{{reason="bad_signature"}}) > 0.1',
        "5m",
        "warning",
        "Webhook requests with a bad signature arrive at more than 6 per minute.",
        "Either the Encrypt Key was rotated in the Lark console but not in the secret, or someone is probing the URL.",
        Runbook(
            "Requests whose `x-lark-signature` does not match the body are refused with 401.",
            (
                "Duplicates and Rejections: are real events still accepted? If none are, the key is wrong.",
                "Compare the Encrypt Key in Lark's console (Events & Callbacks) with the secret's `encrypt_key`.",
            ),
            (
                "Rotated key: update the secret; the next cold start reads it (or redeploy to force one).",
                "Probing: nothing to fix (the requests are refused); consider rotating the Function URL.",
            ),
        ),
    ),
    Alert(
        "LarkApiErrorRateHigh",
        f"{API_ERROR_RATIO} > 0.05",
        "5m",
        "warning",
        "More than 5 % of Lark Open API calls fail with a 5xx.",
        "Lark's side is failing; the worker retries and may fill the dead-letter queue.",
        Runbook(
            "Lark answers 5xx to the worker's or the token refresh's calls.",
            (
                "API Requests Rate by endpoint: one endpoint or all?",
                "Lark's status page and the worker's logs (`code`, `msg` of the answers).",
            ),
            (
                "Transient: wait; failed events are retried and redriven from the DLQ afterwards.",
                "One endpoint: check the app's permissions (scopes) for it in the developer console.",
            ),
        ),
    ),
    Alert(
        "LarkTokenRefreshFailing",
        f"sum by (token_type) (max_over_time({_rate('TokenRefreshFailure')}[15m])) > 0",
        None,
        "warning",
        "A token refresh gave up in the last 20 minutes.",
        "The previous token stays in use until it expires; check the app secret and Lark's status.",
        Runbook(
            "A refresh ran out of retries (the rate's 5-minute window plus 15 minutes of memory: 20 minutes).",
            (
                "The token refresh's logs: the `reason` (credentials, invalid_ticket, rate_limited, transient, api_error, budget).",
                "Token Seconds to Expiry: how long the stored token still lives.",
            ),
            (
                "credentials: fix `app_id`/`app_secret` in the secret; invalid_ticket: re-push the app_ticket from the console.",
                "Lark failing: nothing to do while the stored token lives; invoke the function once Lark is back.",
            ),
        ),
    ),
    Alert(
        "LarkTokenRefreshStalled",
        f"(sum({REFRESH_SUCCESSES}) or vector(0)) == 0",
        "5m",
        "warning",
        "No token refresh has succeeded for 30 minutes.",
        "The schedule may be disabled or the function failing before it reports; tokens expire after 2 h.",
        Runbook(
            "No success in a 25-minute window, for 5 minutes: none in 30 minutes (a healthy schedule "
            "succeeds every 10). On the CloudWatch path the 30 minutes end the exporter's lag (12 min) ago.",
            (
                "The schedule (EventBridge Scheduler `...TokenRefreshFunction...`): enabled?",
                "The function's log group: is it invoked, does it fail at start (configuration error)?",
            ),
            (
                "Re-enable the schedule; fix the configuration the log names; invoke the function once by hand.",
            ),
        ),
    ),
    Alert(
        "LarkTokenNearExpiry",
        f"min by (token_type) ({gauge_series(next(s for s in CATALOG if s.emf_name == 'TokenSecondsToExpiry'))}) < 1200",
        "5m",
        "critical",
        "A stored Lark token expires in less than 20 minutes.",
        "Lark reissues tokens below 30 minutes left, so a fresh refresh should never report this.",
        Runbook(
            "The last refresh stored a token with less than 20 minutes left.",
            ("The token refresh's logs and the token table's item for the token type.",),
            ("Invoke the token refresh; if Lark keeps returning the short token, contact Lark support.",),
        ),
    ),
    Alert(
        "LarkRateLimited",
        f"sum by (endpoint) ({_rate('AuthRateLimitTriggered')}) > 0",
        "10m",
        "warning",
        "Lark has been rate-limiting calls for 10 minutes.",
        "Messages are limited to 50/s per app and 5/s per user or chat; spread the sends.",
        Runbook(
            "Rate-limit answers (429 / 99991400) in every 5-minute window for 10 minutes: sustained, "
            "not a single 429 (that shows for 5 minutes and does not fire).",
            ("API Rate Limiting by endpoint; the worker's logs for the chats involved.",),
            ("Send fewer messages per chat; lower the worker's concurrency; batch notifications.",),
        ),
    ),
    Alert(
        "LarkDeadLetterQueueNotEmpty",
        f'max by (queue_name) ({DLQ_DEPTH}{{queue_name=~"{DEAD_LETTER_QUEUE_REGEX}"}}) > 0',
        "1m",
        "critical",
        "Events that failed every retry are waiting in the dead-letter queue.",
        "Inspect the messages, fix the handler, then redrive them to the events queue.",
        Runbook(
            "An event failed on every receive (or could never be processed) and left the events queue.",
            (
                "Read a message: `aws sqs receive-message --queue-url $EventsDeadLetterQueueUrl`.",
                "The worker's logs for its `event_id`: the exception of each attempt.",
            ),
            (
                "Fix the handler, deploy, then redrive: `aws sqs start-message-move-task --source-arn <dlq arn>`.",
                "An event that can never succeed: delete the message.",
            ),
        ),
    ),
    Alert(
        "LarkWorkerErrors",
        f"{WORKER_ERROR_RATIO} > 0.05",
        "10m",
        "warning",
        "More than 5 % of worker handler runs fail.",
        "Failed events are retried and end in the dead-letter queue after five receives.",
        Runbook(
            "Handlers raise on more than one run in twenty.",
            ("Worker Events by event type; the worker's logs for the exceptions.",),
            ("Fix the handler or the dependency it calls; watch the DLQ afterwards.",),
        ),
    ),
)


def render_alerts() -> dict[str, object]:
    rules: list[dict[str, object]] = []
    for alert in ALERTS:
        rule: dict[str, object] = {"alert": alert.name, "expr": alert.expr}
        if alert.duration:
            rule["for"] = alert.duration
        rule["labels"] = {"severity": alert.severity}
        rule["annotations"] = {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": f"{RUNBOOK_PAGE}#{alert.anchor}",
        }
        rules.append(rule)
    return {"groups": [{"name": GROUP, "rules": rules}]}
