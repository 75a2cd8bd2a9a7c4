"""Configuration, parsed once per cold start.

Every function reads the same environment variables (DESIGN.md, "Fixed interfaces"). A bad or
missing value must stop the function at start with the variable's name in the message, so the
operator sees it in the first log line rather than as a confusing 500 later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

DEFAULT_BASE_URL = "https://open.feishu.cn"
DAY_SECONDS = 24 * 60 * 60


class ConfigError(RuntimeError):
    """A configuration value is missing or malformed; the message names the variable."""


class Settings(BaseModel):
    """The app's configuration. Field aliases are the environment variable names."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    app_id: str = Field("", alias="LARK_APP_ID")
    app_secret: SecretStr = Field(SecretStr(""), alias="LARK_APP_SECRET")
    encrypt_key: SecretStr | None = Field(None, alias="LARK_ENCRYPT_KEY")
    verification_token: SecretStr | None = Field(None, alias="LARK_VERIFICATION_TOKEN")
    app_type: Literal["self_built", "marketplace"] = Field("self_built", alias="LARK_APP_TYPE")
    base_url: str = Field(DEFAULT_BASE_URL, alias="LARK_BASE_URL")
    # The demo bot and card (handlers/demo/): off unless asked for, so production's message
    # events belong to the app's own handlers.
    demo_handlers: bool = Field(False, alias="LARK_DEMO_HANDLERS")

    events_queue_url: str | None = Field(None, alias="EVENTS_QUEUE_URL")
    idempotency_table: str | None = Field(None, alias="IDEMPOTENCY_TABLE")
    token_table: str | None = Field(None, alias="TOKEN_TABLE")

    # The webhook's fields.
    max_body_bytes: int = Field(1024 * 1024, alias="LARK_MAX_BODY_BYTES", gt=0)
    # Lark retries for about 7 h; a day covers every retry. It is the accepted age of a push
    # (older ones are refused as replays) and the de-duplication record outlives the push's
    # timestamp by as much, so a replay the age check accepts always meets its record.
    dedupe_ttl_seconds: int = Field(DAY_SECONDS, alias="LARK_DEDUPE_TTL_SECONDS", ge=DAY_SECONDS)
    # How long a claim stays IN_PROGRESS before another delivery may take it over: longer than
    # the webhook's timeout, shorter than Lark's first retry. Drills shorten it.
    dedupe_lease_seconds: float = Field(10.0, alias="LARK_DEDUPE_LEASE_SECONDS", gt=0, le=60)
    # Without an Encrypt Key pushes carry no signature: the webhook refuses to start unless this
    # says the operator chose that on purpose.
    allow_plaintext: bool = Field(False, alias="LARK_ALLOW_PLAINTEXT")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://open.feishu.cn")
        return value.rstrip("/")

    @field_validator("encrypt_key", "verification_token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    def require(self, field: str) -> str:
        """Return a value a function cannot run without, or fail naming its variable."""
        value = getattr(self, field)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not value:
            alias = type(self).model_fields[field].alias or field
            raise ConfigError(f"{alias} is not set; this function needs it")
        return str(value)


_SECRET_FIELDS = {
    "app_id": "LARK_APP_ID",
    "app_secret": "LARK_APP_SECRET",
    "encrypt_key": "LARK_ENCRYPT_KEY",
    "verification_token": "LARK_VERIFICATION_TOKEN",
}


def _from_secret(secret_id: str) -> dict[str, str]:
    """Read the app's credentials from Secrets Manager.

    Every deployed function starts here (the template always sets ``LARK_SECRET_ID``), so the
    client is the project's one botocore factory: boto3 would add its own import to every cold
    start, and a second session would load the endpoint data twice.
    """
    from lark_service.stores.aws import client  # noqa: PLC0415 - botocore only when a secret is read

    try:
        raw = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"LARK_SECRET_ID: secret {secret_id!r} is not a JSON object") from exc
    except Exception as exc:
        raise ConfigError(f"LARK_SECRET_ID: cannot read secret {secret_id!r} ({type(exc).__name__})") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"LARK_SECRET_ID: secret {secret_id!r} is not a JSON object")
    return {env: str(doc[key]) for key, env in _SECRET_FIELDS.items() if doc.get(key) is not None}


Model = TypeVar("Model", bound=BaseModel)


def parse_environment(model: type[Model], environ: Mapping[str, str] | None = None) -> Model:
    """Validate environment variables into ``model`` (aliases are the variable names).

    Every settings model goes through here so that every bad value is reported the same way:
    the variable's name and what is wrong with it.
    """
    env = dict(os.environ if environ is None else environ)
    try:
        return model.model_validate(env)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment (and the secret, when ``LARK_SECRET_ID`` is set) into Settings."""
    env = dict(os.environ if environ is None else environ)
    secret_id = env.get("LARK_SECRET_ID")
    if secret_id:
        env.update(_from_secret(secret_id))
    return parse_environment(Settings, env)
