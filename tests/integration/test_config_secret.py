"""Credentials from Secrets Manager (``LARK_SECRET_ID``), read over HTTP from moto's server."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from lark_service.config import ConfigError, TokenRefreshSettings, load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def secrets(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return boto3.client("secretsmanager", endpoint_url=moto_endpoint)


def test_the_secret_supplies_every_credential(secrets) -> None:  # type: ignore[no-untyped-def]
    name = f"lark/{uuid.uuid4().hex}"
    arn = secrets.create_secret(
        Name=name,
        SecretString=json.dumps(
            {
                "app_id": "cli_from_secret",
                "app_secret": "app-secret-value",
                "encrypt_key": "encrypt-key-value",
                "verification_token": "verification-token-value",
            }
        ),
    )["ARN"]
    # The secret wins over stray variables, so a deployed function never runs on leftovers.
    settings = load_settings({"LARK_SECRET_ID": arn, "LARK_APP_ID": "cli_stale"})
    assert settings.app_id == "cli_from_secret"
    assert settings.app_secret.get_secret_value() == "app-secret-value"
    assert settings.encrypt_key is not None
    assert settings.encrypt_key.get_secret_value() == "encrypt-key-value"
    assert settings.verification_token is not None
    assert settings.verification_token.get_secret_value() == "verification-token-value"
    # A function's required credentials may come from the secret alone.
    refresh = TokenRefreshSettings.from_environment({"LARK_SECRET_ID": arn, "TOKEN_TABLE": "tokens"})
    assert (refresh.app_id, refresh.app_secret.get_secret_value()) == ("cli_from_secret", "app-secret-value")


def test_a_secret_that_is_not_json_names_the_variable(secrets) -> None:  # type: ignore[no-untyped-def]
    name = f"lark/{uuid.uuid4().hex}"
    secrets.create_secret(Name=name, SecretString="app_secret=plain-text-value")
    with pytest.raises(ConfigError, match="LARK_SECRET_ID") as caught:
        load_settings({"LARK_SECRET_ID": name})
    assert "plain-text-value" not in str(caught.value)


def test_a_missing_secret_names_the_variable(secrets) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"LARK_SECRET_ID: cannot read secret 'lark/absent'"):
        load_settings({"LARK_SECRET_ID": "lark/absent"})
