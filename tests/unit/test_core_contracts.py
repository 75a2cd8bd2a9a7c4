"""The small shared modules' contracts, pinned where mutation testing found them loose.

The envelope's wire form, configuration parsing and the EMF
that ``emit`` prints. Expected values are written out by hand from the contract (the queue
message format, CloudWatch's embedded metric format specification: an ``_aws`` member with
``Timestamp`` in epoch milliseconds and ``CloudWatchMetrics`` directives, dimension and metric
values as top-level members), never computed by the code under test.
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace
from typing import Any

import pytest

from lark_service import observability
from lark_service.config import ConfigError, Settings, TokenRefreshSettings, load_settings, parse_environment
from lark_service.envelope import Envelope

# --- envelope ----------------------------------------------------------------------------------


def test_the_queue_message_is_compact_ascii_json_with_every_field_in_order() -> None:
    """ASCII only: SQS accepts a limited character set, escapes carry any string Lark sends."""
    envelope = Envelope("event", "2.0", "e-1", "im.message.receive_v1", "t-1", 12.5, {"k": "张三"})
    assert envelope.to_json() == (
        '{"kind":"event","schema":"2.0","event_id":"e-1","event_type":"im.message.receive_v1",'
        r'"tenant_key":"t-1","received_at":12.5,"body":{"k":"\u5f20\u4e09"}}'
    )


def test_a_message_round_trips_and_missing_optionals_get_their_defaults() -> None:
    raw = '{"kind":"card","schema":"card.v1","event_id":"c-1","event_type":"card.action.trigger"}'
    assert Envelope.from_json(raw) == Envelope("card", "card.v1", "c-1", "card.action.trigger", None, 0.0, {})
    full = Envelope("event", "1.0", "u-1", "app_ticket", "t", 3.0, {"event": {"type": "app_ticket"}})
    assert Envelope.from_json(full.to_json()) == full


def test_from_json_coerces_the_scalar_fields() -> None:
    raw = json.dumps(
        {"kind": "event", "schema": 2, "event_id": 7, "event_type": "x", "received_at": "4.5", "body": None}
    )
    envelope = Envelope.from_json(raw)
    assert (envelope.schema, envelope.event_id, envelope.received_at, envelope.body) == ("2", "7", 4.5, {})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1, 2]", "^envelope is not a JSON object$"),
        ('{"schema": "2.0", "event_id": "e", "event_type": "x"}', "missing or mistypes 'kind'"),
        ('{"kind": "event", "schema": "2.0", "event_type": "x"}', "missing or mistypes 'event_id'"),
        (
            '{"kind": "event", "schema": "2.0", "event_id": "e", "event_type": "x", "body": 5}',
            "missing or mistypes",
        ),
    ],
)
def test_a_malformed_message_is_a_value_error_naming_the_problem(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Envelope.from_json(raw)


def test_event_is_the_inner_event_or_else_the_whole_body() -> None:
    assert Envelope("event", "2.0", "e", "x", body={"event": {"a": 1}, "header": {}}).event == {"a": 1}
    legacy = {"action": {"value": {}}, "open_id": "ou"}
    assert Envelope("card", "card.v1", "c", "x", body=legacy).event == legacy
    odd = {"event": "not an object"}
    assert Envelope("event", "1.0", "e", "x", body=odd).event == odd


# --- configuration -----------------------------------------------------------------------------


def test_the_documented_variables_fill_the_settings() -> None:
    settings = load_settings(
        {
            "LARK_APP_ID": "cli_1",
            "LARK_APP_SECRET": "secret",
            "LARK_ENCRYPT_KEY": "ek",
            "LARK_VERIFICATION_TOKEN": "vt",
            "LARK_BASE_URL": "https://open.larksuite.com/",
            "EVENTS_QUEUE_URL": "http://q",
            "IDEMPOTENCY_TABLE": "idem",
            "TOKEN_TABLE": "tokens",
            "LARK_APP_TYPE": "marketplace",
        }
    )
    assert settings.app_id == "cli_1"
    assert settings.app_secret.get_secret_value() == "secret"
    assert settings.encrypt_key is not None
    assert settings.encrypt_key.get_secret_value() == "ek"
    assert settings.verification_token is not None
    assert settings.verification_token.get_secret_value() == "vt"
    assert settings.base_url == "https://open.larksuite.com"
    assert (settings.events_queue_url, settings.idempotency_table, settings.token_table) == (
        "http://q",
        "idem",
        "tokens",
    )
    assert settings.app_type == "marketplace"
    assert settings.app_secret.get_secret_value() == "secret"


def test_defaults_follow_the_design() -> None:
    settings = load_settings({})
    assert settings.base_url == "https://open.feishu.cn"
    assert settings.app_type == "self_built"
    assert settings.verification_token is None
    assert settings.dedupe_ttl_seconds == 24 * 60 * 60  # Lark retries for about 7 h; a day covers it
    assert settings.max_body_bytes == 1024 * 1024


def test_empty_secrets_mean_unset() -> None:
    settings = load_settings({"LARK_ENCRYPT_KEY": "", "LARK_VERIFICATION_TOKEN": ""})
    assert (settings.encrypt_key, settings.verification_token) == (None, None)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "https://open.feishu.cn"])
def test_http_and_https_base_urls_are_accepted(url: str) -> None:
    assert load_settings({"LARK_BASE_URL": url + "//"}).base_url == url


def test_the_dedupe_window_may_not_be_shorter_than_a_day() -> None:
    assert load_settings({"LARK_DEDUPE_TTL_SECONDS": "86400"}).dedupe_ttl_seconds == 86400
    with pytest.raises(ConfigError, match="LARK_DEDUPE_TTL_SECONDS"):
        load_settings({"LARK_DEDUPE_TTL_SECONDS": "86399"})
    with pytest.raises(ConfigError, match="LARK_MAX_BODY_BYTES"):
        load_settings({"LARK_MAX_BODY_BYTES": "0"})


def test_every_problem_is_reported_with_its_variable_and_what_is_wrong() -> None:
    with pytest.raises(ConfigError) as info:
        parse_environment(Settings, {"LARK_BASE_URL": "ftp://x", "LARK_APP_TYPE": "other"})
    message = str(info.value)
    assert message.startswith("invalid configuration: ")
    assert "LARK_BASE_URL: must be an http(s) URL" in message
    problems = message.removeprefix("invalid configuration: ").split("; ")
    assert sorted(problem.split(": ")[0] for problem in problems) == ["LARK_APP_TYPE", "LARK_BASE_URL"]
    assert info.value.__cause__ is None  # one line in the log, no chained traceback


def test_a_required_empty_secret_names_its_variable() -> None:
    with pytest.raises(ConfigError, match=r"^LARK_APP_SECRET is not set; this function needs it$"):
        TokenRefreshSettings.from_environment({"LARK_APP_ID": "a", "LARK_APP_SECRET": "", "TOKEN_TABLE": "t"})


def test_the_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LARK_APP_ID", "cli_from_env")
    assert load_settings().app_id == "cli_from_env"
    assert parse_environment(Settings).app_id == "cli_from_env"


# --- EMF ---------------------------------------------------------------------------------------


def _documents(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_emit_prints_one_emf_document_with_exactly_the_declared_dimensions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = time.time() * 1000
    observability.emit("ApiRequestDuration", 0.25, method="POST", endpoint="/open-apis/im/v1/messages")
    [doc] = _documents(capsys.readouterr().out)
    timestamp = doc["_aws"].pop("Timestamp")
    assert before - 1000 <= timestamp <= time.time() * 1000 + 1000
    assert doc == {
        "_aws": {
            "CloudWatchMetrics": [
                {
                    "Namespace": "LarkService",
                    "Dimensions": [["method", "endpoint"]],
                    "Metrics": [{"Name": "ApiRequestDuration", "Unit": "Seconds"}],
                }
            ]
        },
        "method": "POST",
        "endpoint": "/open-apis/im/v1/messages",
        "ApiRequestDuration": [0.25],
    }


def test_a_count_defaults_to_one_and_an_empty_dimension_reads_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    observability.emit("WebhookRequestsRejected", reason="")
    [doc] = _documents(capsys.readouterr().out)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [
        {"Name": "WebhookRequestsRejected", "Unit": "Count"}
    ]
    assert (doc["reason"], doc["WebhookRequestsRejected"]) == ("none", [1.0])


def test_emit_refuses_unknown_metrics_and_wrong_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(KeyError, match="metric 'NoSuchMetric' is not in the catalog"):
        observability.emit("NoSuchMetric")
    with pytest.raises(
        ValueError, match=r"metric WebhookRequestsRejected takes dimensions \('reason',\), got \(\)"
    ):
        observability.emit("WebhookRequestsRejected")
    with pytest.raises(ValueError, match="takes dimensions"):
        observability.emit("WebhookRequestsRejected", reason="x", extra="y")
    assert _documents(capsys.readouterr().out) == []


def test_the_cold_start_is_counted_once_with_a_context_or_the_fallback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(observability, "_cold", True)
    observability.count_cold_start(SimpleNamespace(function_name=""), "webhook")
    observability.count_cold_start(SimpleNamespace(function_name="other"), "webhook")
    docs = _documents(capsys.readouterr().out)
    assert [(d["function_name"], d["ColdStart"]) for d in docs] == [("webhook", [1.0])]
    assert observability._cold is False
