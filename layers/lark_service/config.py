"""Configuration, parsed once per cold start.

Every function reads the same environment variables (``docs/deployment.md`` lists them). Each
function has its own settings class (``WebhookSettings``, ``WorkerSettings``,
``TokenRefreshSettings``, ``AlertNotifierSettings``) whose required fields are plain typed
attributes: a bad or missing value stops the function at start with the variable's name in the
message, so the operator sees it in the first log line rather than as a confusing 500 later, and
mypy sees every use.

The classes declare their variables with ``Var`` and are parsed here rather than by pydantic:
pydantic's import, its plugin lookup and one model's schema cost about 55 ms of CPU per cold start
(``docs/performance.md``), more than the whole budget of the webhook's URL challenge, to check a
dozen strings. The rules are the same: a typed, frozen object; empty means unset; every problem
reported at once, each with its variable's name; secrets hidden from ``repr``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, Self, TypeVar, cast, overload

DEFAULT_BASE_URL = "https://open.feishu.cn"
DAY_SECONDS = 24 * 60 * 60

T_co = TypeVar("T_co", covariant=True)
Model = TypeVar("Model", bound="EnvironmentModel")


class ConfigError(RuntimeError):
    """A configuration value is missing or malformed; the message names the variable."""


class Secret:
    """A credential: its value only through ``get_secret_value()``, never in a repr or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


_REQUIRED: Any = object()


class Var(Generic[T_co]):
    """One setting: the environment variable it is read from, how to read it, and its default.

    A class attribute of a settings class. The parsed value lives in the instance's ``__dict__``,
    which Python reads before a descriptor without ``__set__``: ``__get__`` exists for mypy and
    for reading the declaration from the class.
    """

    __slots__ = ("default", "env", "parse")

    def __init__(self, env: str, parse: Callable[[str], T_co], default: T_co = _REQUIRED) -> None:
        self.env = env
        self.parse = parse
        self.default = default

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Var[T_co]: ...
    @overload
    def __get__(self, obj: object, owner: type[Any]) -> T_co: ...
    def __get__(self, obj: object | None, owner: type[Any]) -> Var[T_co] | T_co:
        return self  # only reached through the class: an instance's own value shadows the descriptor


# --- how values are read; a ValueError's message follows the variable's name -----------------


def text(value: str) -> str:
    return value


def integer(*, minimum: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip(), 10)
        except ValueError:
            raise ValueError(f"must be a whole number, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def seconds(
    *, above: float | None = None, minimum: float | None = None, maximum: float | None = None
) -> Callable[[str], float]:
    """A finite number of seconds within bounds (``above`` excludes its bound, ``minimum`` includes it)."""

    def parse(value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"must be a number of seconds, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"must be a finite number of seconds, got {value!r}")
        if above is not None and number <= above:
            raise ValueError(f"must be greater than {above:g}, got {number:g}")
        if minimum is not None and number < minimum:
            raise ValueError(f"must be at least {minimum:g}, got {number:g}")
        if maximum is not None and number > maximum:
            raise ValueError(f"must be at most {maximum:g}, got {number:g}")
        return number

    return parse


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def flag(value: str) -> bool:
    """The spellings pydantic and most tools accept, so a template written for either works."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {value!r}")


def http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL such as https://open.feishu.cn")
    return value.rstrip("/")


AppType = Literal["self_built", "marketplace"]


def lark_app_type(value: str) -> AppType:
    if value not in ("self_built", "marketplace"):
        raise ValueError(f"must be self_built or marketplace, got {value!r}")
    return cast(AppType, value)


# --- the models ---------------------------------------------------------------------------------


class EnvironmentModel:
    """A frozen set of settings read from named environment variables."""

    def __init__(self, **values: Any) -> None:
        declared = self.variables()
        unknown = set(values) - set(declared)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(sorted(unknown))}")
        for name, var in declared.items():
            if name in values:
                value = values[name]
            elif var.required:
                raise TypeError(f"{type(self).__name__} needs {name} ({var.env})")
            else:
                value = var.default
            object.__setattr__(self, name, value)
        self.check()

    @classmethod
    def variables(cls) -> dict[str, Var[object]]:
        """Attribute name -> its declaration, a subclass's overriding its base's."""
        found: dict[str, Var[object]] = {}
        for klass in reversed(cls.__mro__):
            found.update((name, var) for name, var in vars(klass).items() if isinstance(var, Var))
        return found

    def check(self) -> None:
        """Rules across settings; raise ``ValueError`` naming the variables."""

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash(tuple(vars(self).items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def parse_environment(model: type[Model], environ: Mapping[str, str] | None = None) -> Model:
    """Read ``model``'s variables from the environment.

    Every settings class goes through here so that every bad value is reported the same way, all
    at once: the variable's name and what is wrong with it. An empty variable counts as unset, so a
    required one left blank in a template fails like a missing one, and an optional one takes its
    default.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    unset: list[str] = []
    invalid: list[str] = []
    for name, var in model.variables().items():
        raw = env.get(var.env, "")
        if raw == "":
            if var.required:
                unset.append(f"{var.env} is not set; this function needs it")
            continue
        try:
            values[name] = var.parse(raw)
        except ValueError as exc:
            invalid.append(f"{var.env}: {exc}")
    if not unset and not invalid:
        try:
            return model(**values)
        except ValueError as exc:
            invalid.append(str(exc))
    raise ConfigError(
        "; ".join(unset + ([f"invalid configuration: {'; '.join(invalid)}"] if invalid else []))
    )


class Settings(EnvironmentModel):
    """The app's configuration, none of it required: each function's subclass says what it needs."""

    app_id = Var("LARK_APP_ID", text, "")
    app_secret = Var("LARK_APP_SECRET", Secret, Secret(""))
    encrypt_key: Var[Secret | None] = Var("LARK_ENCRYPT_KEY", Secret, None)
    verification_token: Var[Secret | None] = Var("LARK_VERIFICATION_TOKEN", Secret, None)
    app_type: Var[AppType] = Var("LARK_APP_TYPE", lark_app_type, "self_built")
    base_url = Var("LARK_BASE_URL", http_url, DEFAULT_BASE_URL)
    # The demo bot and card (handlers/demo/): off unless asked for, so production's message
    # events belong to the app's own handlers.
    demo_handlers = Var("LARK_DEMO_HANDLERS", flag, False)

    events_queue_url: Var[str | None] = Var("EVENTS_QUEUE_URL", text, None)
    idempotency_table: Var[str | None] = Var("IDEMPOTENCY_TABLE", text, None)
    token_table: Var[str | None] = Var("TOKEN_TABLE", text, None)

    # The webhook's fields.
    max_body_bytes = Var("LARK_MAX_BODY_BYTES", integer(minimum=1), 1024 * 1024)
    # Lark retries for about 7 h; a day covers every retry. It is the accepted age of a push
    # (older ones are refused as replays) and the de-duplication record outlives the push's
    # timestamp by as much, so a replay the age check accepts always meets its record.
    dedupe_ttl_seconds = Var("LARK_DEDUPE_TTL_SECONDS", integer(minimum=DAY_SECONDS), DAY_SECONDS)
    # How long a claim stays IN_PROGRESS before another delivery may take it over: longer than
    # the webhook's timeout, shorter than Lark's first retry. Drills shorten it.
    dedupe_lease_seconds = Var("LARK_DEDUPE_LEASE_SECONDS", seconds(above=0, maximum=60), 10.0)
    # Without an Encrypt Key pushes carry no signature: the webhook refuses to start unless this
    # says the operator chose that on purpose.
    allow_plaintext = Var("LARK_ALLOW_PLAINTEXT", flag, False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Parse the environment (and the secret, when ``LARK_SECRET_ID`` is set) into this class.

        The secret's values override the environment's, so a rotated credential never loses to a
        stale variable.
        """
        env = dict(os.environ if environ is None else environ)
        secret_id = env.get("LARK_SECRET_ID")
        if secret_id:
            env.update(_from_secret(secret_id))
        return parse_environment(cls, env)


class WebhookSettings(Settings):
    """The webhook cannot verify a push without the token nor deliver it without its stores."""

    verification_token = Var("LARK_VERIFICATION_TOKEN", Secret)
    idempotency_table = Var("IDEMPOTENCY_TABLE", text)
    events_queue_url = Var("EVENTS_QUEUE_URL", text)


class LarkSettings(Settings):
    """What calling Lark takes: the app's credentials and the table its tokens are kept in."""

    app_id = Var("LARK_APP_ID", text)
    app_secret = Var("LARK_APP_SECRET", Secret)
    token_table = Var("TOKEN_TABLE", text)


class TokenRefreshSettings(LarkSettings):
    """The scheduled refresh needs nothing beyond the Lark services."""


class WorkerSettings(LarkSettings):
    """The worker records each event it ran (``EVENTS_QUEUE_URL`` stays optional: see wiring)."""

    idempotency_table = Var("IDEMPOTENCY_TABLE", text)


class AlertNotifierSettings(LarkSettings):
    """The alert notifier posts cards to one chat and keeps each card's id to update it."""

    idempotency_table = Var("IDEMPOTENCY_TABLE", text)
    chat_id = Var("LARK_ALERT_CHAT_ID", text)
    runbook_url: Var[str | None] = Var("LARK_ALERT_RUNBOOK_URL", text, None)
    tenant_key: Var[str | None] = Var("LARK_ALERT_TENANT_KEY", text, None)


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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings every function shares, none of them required (tests and tools use this)."""
    return Settings.from_environment(environ)
