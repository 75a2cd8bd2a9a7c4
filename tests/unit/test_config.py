from __future__ import annotations

import pytest

from lark_service.config import (
    AlertNotifierSettings,
    ConfigError,
    Secret,
    Settings,
    TokenRefreshSettings,
    WebhookSettings,
    WorkerSettings,
    load_settings,
)


def test_defaults_need_no_credentials() -> None:
    settings = load_settings({})
    assert settings.base_url == "https://open.feishu.cn"
    assert settings.encrypt_key is None
    assert settings.dedupe_ttl_seconds >= 24 * 3600


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="LARK_BASE_URL"):
        load_settings({"LARK_BASE_URL": "open.feishu.cn"})
    with pytest.raises(ConfigError, match="LARK_DEDUPE_TTL_SECONDS"):
        load_settings({"LARK_DEDUPE_TTL_SECONDS": "60"})


@pytest.mark.parametrize(
    ("model", "required"),
    [
        (WebhookSettings, {"LARK_VERIFICATION_TOKEN", "IDEMPOTENCY_TABLE", "EVENTS_QUEUE_URL"}),
        (WorkerSettings, {"LARK_APP_ID", "LARK_APP_SECRET", "TOKEN_TABLE", "IDEMPOTENCY_TABLE"}),
        (TokenRefreshSettings, {"LARK_APP_ID", "LARK_APP_SECRET", "TOKEN_TABLE"}),
        (
            AlertNotifierSettings,
            {"LARK_APP_ID", "LARK_APP_SECRET", "TOKEN_TABLE", "IDEMPOTENCY_TABLE", "LARK_ALERT_CHAT_ID"},
        ),
    ],
)
def test_each_function_names_every_missing_required_variable(
    model: type[WebhookSettings | WorkerSettings | TokenRefreshSettings | AlertNotifierSettings],
    required: set[str],
) -> None:
    full = {name: "x" for name in required}
    assert model.from_environment(full)  # the list is complete: nothing else is required
    for name in sorted(required):
        # Missing and blank (a template's empty parameter) fail alike, naming the variable.
        for environ in ({k: v for k, v in full.items() if k != name}, {**full, name: ""}):
            with pytest.raises(ConfigError, match=f"{name} is not set; this function needs it"):
                model.from_environment(environ)


def test_required_fields_are_typed_values() -> None:
    settings = WebhookSettings.from_environment(
        {"LARK_VERIFICATION_TOKEN": "t0k", "IDEMPOTENCY_TABLE": "idem", "EVENTS_QUEUE_URL": "https://q"}
    )
    assert (settings.verification_token.get_secret_value(), settings.idempotency_table) == ("t0k", "idem")
    assert settings.events_queue_url == "https://q"
    assert "t0k" not in repr(settings)


def test_secrets_are_not_in_repr() -> None:
    settings = load_settings({"LARK_APP_SECRET": "s3cr3t-value", "LARK_ENCRYPT_KEY": "k3y-value"})
    assert "s3cr3t-value" not in repr(settings)
    assert "k3y-value" not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("off", False),
    ],
)
def test_flags_take_the_usual_spellings(raw: str, expected: bool) -> None:
    assert load_settings({"LARK_DEMO_HANDLERS": raw}).demo_handlers is expected


@pytest.mark.parametrize(
    ("variable", "raw", "problem"),
    [
        ("LARK_DEMO_HANDLERS", "maybe", "must be true or false, got 'maybe'"),
        ("LARK_MAX_BODY_BYTES", "1MB", "must be a whole number, got '1MB'"),
        ("LARK_MAX_BODY_BYTES", "0", "must be at least 1, got 0"),
        ("LARK_DEDUPE_LEASE_SECONDS", "nan", "must be a finite number of seconds, got 'nan'"),
        ("LARK_DEDUPE_LEASE_SECONDS", "0", "must be greater than 0, got 0"),
        ("LARK_DEDUPE_LEASE_SECONDS", "61", "must be at most 60, got 61"),
        ("LARK_APP_TYPE", "store", "must be self_built or marketplace, got 'store'"),
        ("LARK_DEDUPE_LEASE_SECONDS", "60.5", "must be at most 60, got 60.5"),
        ("LARK_DEDUPE_LEASE_SECONDS", "-1", "must be greater than 0, got -1"),
        ("LARK_DEDUPE_TTL_SECONDS", "86399", "must be at least 86400, got 86399"),
        ("LARK_ALLOW_PLAINTEXT", "si", "must be true or false, got 'si'"),
        ("LARK_BASE_URL", "feishu", "must be an http(s) URL such as https://open.feishu.cn"),
    ],
)
def test_each_bad_value_says_what_is_wrong(variable: str, raw: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({variable: raw})
    assert str(caught.value) == f"invalid configuration: {variable}: {problem}"


def test_bounds_are_inclusive_where_they_say_at_least_or_at_most() -> None:
    settings = load_settings({"LARK_MAX_BODY_BYTES": "1", "LARK_DEDUPE_LEASE_SECONDS": "60"})
    assert (settings.max_body_bytes, settings.dedupe_lease_seconds) == (1, 60.0)


def test_an_empty_optional_variable_takes_its_default() -> None:
    settings = load_settings({"LARK_MAX_BODY_BYTES": "", "LARK_BASE_URL": "", "LARK_APP_TYPE": ""})
    assert (settings.max_body_bytes, settings.base_url, settings.app_type) == (
        1024 * 1024,
        "https://open.feishu.cn",
        "self_built",
    )


def test_missing_and_invalid_are_reported_together() -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookSettings.from_environment(
            {"LARK_MAX_BODY_BYTES": "-5", "IDEMPOTENCY_TABLE": "t", "EVENTS_QUEUE_URL": "q"}
        )
    assert str(caught.value) == (
        "LARK_VERIFICATION_TOKEN is not set; this function needs it; "
        "invalid configuration: LARK_MAX_BODY_BYTES: must be at least 1, got -5"
    )


def test_settings_are_frozen_and_compare_by_value() -> None:
    settings = load_settings({"LARK_APP_ID": "cli_a", "LARK_APP_SECRET": "s"})
    with pytest.raises(AttributeError):
        settings.app_id = "cli_b"  # type: ignore[misc]
    assert settings == load_settings({"LARK_APP_ID": "cli_a", "LARK_APP_SECRET": "s"})
    assert settings != load_settings({"LARK_APP_ID": "cli_a", "LARK_APP_SECRET": "other"})


def test_a_subclass_makes_a_variable_required_without_changing_its_name() -> None:
    assert Settings.variables()["verification_token"].required is False
    assert WebhookSettings.variables()["verification_token"].required is True
    assert WebhookSettings.variables()["verification_token"].env == "LARK_VERIFICATION_TOKEN"


def test_direct_construction_refuses_unknown_and_missing_settings() -> None:
    with pytest.raises(TypeError, match="no setting colour"):
        Settings(colour="blue")
    with pytest.raises(TypeError, match="LARK_ALERT_CHAT_ID"):
        AlertNotifierSettings(app_id="a", app_secret=Secret("s"), token_table="t", idempotency_table="i")
