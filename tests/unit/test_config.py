from __future__ import annotations

import pytest

from lark_service.config import (
    AlertNotifierSettings,
    ConfigError,
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
