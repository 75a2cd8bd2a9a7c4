"""How a bad ``LARK_SECRET_ID`` is reported: the variable, the secret and what went wrong, no value.

The exception class in the message is botocore's own modeled error for the API's error code
(Secrets Manager's ``GetSecretValue`` documents ``ResourceNotFoundException``), read from moto's
server over HTTP.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from lark_service.config import ConfigError, load_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def secrets(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return boto3.client("secretsmanager", endpoint_url=moto_endpoint)


def test_a_missing_secret_names_the_aws_error(secrets) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as caught:
        load_settings({"LARK_SECRET_ID": "lark/absent-secret"})
    assert (
        str(caught.value)
        == "LARK_SECRET_ID: cannot read secret 'lark/absent-secret' (ResourceNotFoundException)"
    )


@pytest.mark.parametrize("value", [[1, 2], "a string", 7, None])
def test_json_that_is_not_an_object_is_refused_by_name(secrets, value: object) -> None:  # type: ignore[no-untyped-def]
    name = f"lark/{uuid.uuid4().hex}"
    secrets.create_secret(Name=name, SecretString=json.dumps(value))
    with pytest.raises(ConfigError) as caught:
        load_settings({"LARK_SECRET_ID": name})
    assert str(caught.value) == f"LARK_SECRET_ID: secret {name!r} is not a JSON object"


def test_absent_and_null_fields_fall_back_to_the_variables(secrets) -> None:  # type: ignore[no-untyped-def]
    name = f"lark/{uuid.uuid4().hex}"
    secrets.create_secret(Name=name, SecretString=json.dumps({"app_id": "cli_secret", "encrypt_key": None}))
    settings = load_settings(
        {"LARK_SECRET_ID": name, "LARK_ENCRYPT_KEY": "from-variable", "LARK_APP_ID": "x"}
    )
    assert settings.app_id == "cli_secret"
    assert settings.encrypt_key is not None
    assert settings.encrypt_key.get_secret_value() == "from-variable"
