from __future__ import annotations

import pytest

from lark_service.config import ConfigError, load_settings


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


def test_missing_required_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="EVENTS_QUEUE_URL"):
        load_settings({}).require("events_queue_url")


def test_secrets_are_not_in_repr() -> None:
    settings = load_settings({"LARK_APP_SECRET": "s3cr3t-value", "LARK_ENCRYPT_KEY": "k3y-value"})
    assert "s3cr3t-value" not in repr(settings)
    assert "k3y-value" not in repr(settings)
