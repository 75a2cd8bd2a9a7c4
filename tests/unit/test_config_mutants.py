"""The configuration parser's rules one by one, beyond ``test_config.py``'s functional checks.

Oracles: the variables table and defaults in README.md ("Configuration") and docs/webhook.md
(``LARK_MAX_BODY_BYTES`` 1 MiB, ``LARK_DEDUPE_LEASE_SECONDS`` 10 s, ``LARK_DEMO_HANDLERS`` and
``LARK_ALLOW_PLAINTEXT`` false); the boolean spellings pydantic documents for ``bool`` fields
(pydantic docs, "Standard Library Types" -> booleans: ``0, off, f, false, n, no, 1, on, t, true,
y, yes``, case-insensitive), which templates written for the earlier pydantic settings use; Python's
``int(text, 10)`` and ``float`` for numbers.
"""

from __future__ import annotations

from typing import Any

import pytest

from lark_service.config import (
    AlertNotifierSettings,
    ConfigError,
    EnvironmentModel,
    Secret,
    Settings,
    Var,
    WebhookSettings,
    flag,
    http_url,
    integer,
    lark_app_type,
    load_settings,
    parse_environment,
    seconds,
    text,
)


@pytest.mark.parametrize("raw", ["1", "true", "t", "yes", "y", "on", "TRUE", "Yes", " on ", "T"])
def test_every_documented_true_spelling(raw: str) -> None:
    assert flag(raw) is True


@pytest.mark.parametrize("raw", ["0", "false", "f", "no", "n", "off", "FALSE", "No", " off ", "F"])
def test_every_documented_false_spelling(raw: str) -> None:
    assert flag(raw) is False


@pytest.mark.parametrize("raw", ["2", "yes please", "", "tru", "nope"])
def test_anything_else_is_not_a_flag(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^must be true or false, got "):
        flag(raw)


def test_whole_numbers_are_decimal_and_may_be_padded() -> None:
    parse = integer()
    assert parse(" 42 ") == 42
    assert parse("010") == 10
    assert parse("-3") == -3
    for raw in ("1a", "0x10", "1.5", "ten"):
        with pytest.raises(ValueError, match=r"^must be") as raised:
            parse(raw)
        assert str(raised.value) == f"must be a whole number, got {raw!r}"


def test_a_minimum_is_inclusive_and_named() -> None:
    parse = integer(minimum=5)
    assert parse("5") == 5
    with pytest.raises(ValueError, match=r"^must be") as raised:
        parse("4")
    assert str(raised.value) == "must be at least 5, got 4"
    assert integer(minimum=0)("0") == 0
    assert integer()("-100") == -100


def test_seconds_are_finite_numbers_within_their_bounds() -> None:
    assert seconds()(" 2.5 ") == 2.5
    assert seconds()("1e3") == 1000.0
    for raw in ("inf", "-inf", "nan"):
        with pytest.raises(ValueError, match=r"^must be") as raised:
            seconds()(raw)
        assert str(raised.value) == f"must be a finite number of seconds, got {raw!r}"
    with pytest.raises(ValueError, match=r"^must be") as raised:
        seconds()("soon")
    assert str(raised.value) == "must be a number of seconds, got 'soon'"


def test_above_excludes_its_bound_minimum_and_maximum_include_theirs() -> None:
    above = seconds(above=0.5)
    assert above("0.51") == 0.51
    with pytest.raises(ValueError, match=r"^must be") as raised:
        above("0.5")
    assert str(raised.value) == "must be greater than 0.5, got 0.5"
    at_least = seconds(minimum=1.5)
    assert at_least("1.5") == 1.5
    with pytest.raises(ValueError, match=r"^must be") as raised:
        at_least("1.25")
    assert str(raised.value) == "must be at least 1.5, got 1.25"
    at_most = seconds(maximum=2.5)
    assert at_most("2.5") == 2.5
    with pytest.raises(ValueError, match=r"^must be") as raised:
        at_most("2.75")
    assert str(raised.value) == "must be at most 2.5, got 2.75"
    assert seconds(above=0, maximum=60)("60") == 60.0


def test_base_urls_are_http_or_https_without_trailing_slashes() -> None:
    assert http_url("https://open.larksuite.com///") == "https://open.larksuite.com"
    assert http_url("http://127.0.0.1:9000/") == "http://127.0.0.1:9000"
    for raw in ("ftp://open.feishu.cn", "open.feishu.cn", "HTTPS//x", " https://x"):
        with pytest.raises(ValueError, match=r"^must be") as raised:
            http_url(raw)
        assert str(raised.value) == "must be an http(s) URL such as https://open.feishu.cn"


def test_the_two_app_types() -> None:
    assert lark_app_type("self_built") == "self_built"
    assert lark_app_type("marketplace") == "marketplace"
    with pytest.raises(ValueError, match=r"^must be") as raised:
        lark_app_type("Marketplace")
    assert str(raised.value) == "must be self_built or marketplace, got 'Marketplace'"
    assert text(" kept as is ") == " kept as is "


def test_a_secret_shows_only_whether_it_is_set() -> None:
    secret = Secret("hunter2")
    assert secret.get_secret_value() == "hunter2"
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "**********"
    assert len(secret) == 7
    assert repr(Secret("")) == "Secret('')"
    assert str(Secret("")) == ""
    assert len(Secret("")) == 0
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert hash(Secret("a")) == hash(Secret("a"))
    assert len({Secret("a"), Secret("a"), Secret("b")}) == 2


def test_the_documented_defaults() -> None:
    settings = load_settings({})
    assert settings.app_id == ""
    assert settings.app_secret == Secret("")
    assert (settings.encrypt_key, settings.verification_token) == (None, None)
    assert (settings.events_queue_url, settings.idempotency_table, settings.token_table) == (None, None, None)
    assert settings.app_type == "self_built"
    assert settings.base_url == "https://open.feishu.cn"
    assert settings.demo_handlers is False
    assert settings.allow_plaintext is False
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.dedupe_ttl_seconds == 86400
    assert settings.dedupe_lease_seconds == 10.0


def test_each_variable_is_read_by_its_documented_name() -> None:
    settings = load_settings(
        {
            "LARK_DEMO_HANDLERS": "true",
            "LARK_ALLOW_PLAINTEXT": "true",
            "LARK_MAX_BODY_BYTES": "2048",
            "LARK_DEDUPE_TTL_SECONDS": "90000",
            "LARK_DEDUPE_LEASE_SECONDS": "7.5",
        }
    )
    assert (settings.demo_handlers, settings.allow_plaintext) == (True, True)
    assert (settings.max_body_bytes, settings.dedupe_ttl_seconds, settings.dedupe_lease_seconds) == (
        2048,
        90000,
        7.5,
    )
    alert = AlertNotifierSettings.from_environment(
        {
            "LARK_APP_ID": "cli_a",
            "LARK_APP_SECRET": "s",
            "TOKEN_TABLE": "tok",
            "IDEMPOTENCY_TABLE": "idem",
            "LARK_ALERT_CHAT_ID": "oc_1",
            "LARK_ALERT_RUNBOOK_URL": "https://runbook",
            "LARK_ALERT_TENANT_KEY": "tk",
        }
    )
    assert (alert.chat_id, alert.runbook_url, alert.tenant_key) == ("oc_1", "https://runbook", "tk")
    bare = AlertNotifierSettings.from_environment(
        {
            "LARK_APP_ID": "a",
            "LARK_APP_SECRET": "s",
            "TOKEN_TABLE": "t",
            "IDEMPOTENCY_TABLE": "i",
            "LARK_ALERT_CHAT_ID": "c",
        }
    )
    assert (bare.runbook_url, bare.tenant_key) == (None, None)


def test_several_problems_are_joined_in_declaration_order() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings({"LARK_MAX_BODY_BYTES": "0", "LARK_BASE_URL": "x", "LARK_APP_TYPE": "y"})
    assert str(raised.value) == (
        "invalid configuration: LARK_APP_TYPE: must be self_built or marketplace, got 'y'; "
        "LARK_BASE_URL: must be an http(s) URL such as https://open.feishu.cn; "
        "LARK_MAX_BODY_BYTES: must be at least 1, got 0"
    )


def test_several_missing_variables_are_joined() -> None:
    with pytest.raises(ConfigError) as raised:
        WebhookSettings.from_environment({})
    assert str(raised.value) == (
        "LARK_VERIFICATION_TOKEN is not set; this function needs it; "
        "EVENTS_QUEUE_URL is not set; this function needs it; "
        "IDEMPOTENCY_TABLE is not set; this function needs it"
    )


class _Window(EnvironmentModel):
    """A model with a rule across two settings, as the tuning classes have."""

    low = Var("TEST_LOW", integer(), 1)
    high = Var("TEST_HIGH", integer(), 2)

    def check(self) -> None:
        if self.high < self.low:
            raise ValueError(f"TEST_HIGH ({self.high}) must be at least TEST_LOW ({self.low})")


def test_a_rule_across_settings_is_reported_as_invalid_configuration() -> None:
    assert parse_environment(_Window, {"TEST_LOW": "3", "TEST_HIGH": "3"}) == _Window(low=3, high=3)
    with pytest.raises(ConfigError) as raised:
        parse_environment(_Window, {"TEST_LOW": "5"})
    assert str(raised.value) == "invalid configuration: TEST_HIGH (2) must be at least TEST_LOW (5)"


def test_the_rule_is_not_run_while_a_value_is_missing_or_invalid() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_environment(_Window, {"TEST_LOW": "x", "TEST_HIGH": "0"})
    assert str(raised.value) == "invalid configuration: TEST_LOW: must be a whole number, got 'x'"


def test_models_are_frozen_values() -> None:
    window = _Window(low=1, high=2)
    with pytest.raises(AttributeError) as raised:
        window.low = 5
    assert str(raised.value) == "_Window is frozen"
    assert window == _Window()
    assert window != _Window(high=3)
    assert window != Settings()
    assert hash(window) == hash(_Window())
    assert repr(window) == "_Window(low=1, high=2)"


def test_direct_construction_names_the_missing_or_unknown_setting() -> None:
    with pytest.raises(TypeError) as raised:
        WebhookSettings(idempotency_table="i", events_queue_url="q")
    assert str(raised.value) == "WebhookSettings needs verification_token (LARK_VERIFICATION_TOKEN)"
    with pytest.raises(TypeError) as unknown:
        Settings(colour="blue", flavour="x")
    assert str(unknown.value) == "Settings has no setting colour, flavour"


def test_a_subclass_declaration_overrides_its_base_s() -> None:
    declared = WebhookSettings.variables()
    assert list(declared)[:4] == ["app_id", "app_secret", "encrypt_key", "verification_token"]
    assert declared["verification_token"].required
    assert not Settings.variables()["verification_token"].required
    assert declared["verification_token"] is vars(WebhookSettings)["verification_token"]
    assert WebhookSettings.verification_token is declared["verification_token"]


class _Secrets:
    """Secrets Manager as botocore's client answers ``get_secret_value`` (``SecretString``)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.asked.append(SecretId)
        if isinstance(self.answer, Exception):
            raise self.answer
        return {"SecretString": self.answer}


def _with_secret(monkeypatch: pytest.MonkeyPatch, answer: Any) -> _Secrets:
    secrets = _Secrets(answer)
    monkeypatch.setattr("lark_service.stores.aws.client", lambda service: secrets)
    return secrets


def test_the_secret_overrides_the_environment_and_fills_only_what_it_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets = _with_secret(monkeypatch, '{"app_id": "cli_s", "app_secret": 12345, "encrypt_key": null}')
    settings = load_settings(
        {"LARK_SECRET_ID": "lark/app", "LARK_APP_ID": "cli_env", "LARK_ENCRYPT_KEY": "ek"}
    )
    assert secrets.asked == ["lark/app"]
    assert settings.app_id == "cli_s"
    assert settings.app_secret.get_secret_value() == "12345"
    assert settings.encrypt_key == Secret("ek")
    assert settings.verification_token is None


def test_without_a_secret_id_no_secret_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = _with_secret(monkeypatch, "{}")
    assert load_settings({"LARK_SECRET_ID": "", "LARK_APP_ID": "cli_env"}).app_id == "cli_env"
    assert secrets.asked == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("not json", "LARK_SECRET_ID: secret 'lark/app' is not a JSON object"),
        ('["a"]', "LARK_SECRET_ID: secret 'lark/app' is not a JSON object"),
        (KeyError("SecretString"), "LARK_SECRET_ID: cannot read secret 'lark/app' (KeyError)"),
    ],
)
def test_an_unusable_secret_is_named(monkeypatch: pytest.MonkeyPatch, answer: Any, message: str) -> None:
    _with_secret(monkeypatch, answer)
    with pytest.raises(ConfigError) as raised:
        load_settings({"LARK_SECRET_ID": "lark/app"})
    assert str(raised.value) == message


def test_a_declaration_keeps_its_variable_its_reader_and_its_default() -> None:
    optional = Var("TEST_COUNT", integer(minimum=2), 5)
    assert (optional.env, optional.default, optional.required) == ("TEST_COUNT", 5, False)
    assert optional.parse(" 7 ") == 7
    required = Var("TEST_NAME", text)
    assert required.required

    class Local(EnvironmentModel):
        count = optional
        name = required

    assert parse_environment(Local, {"TEST_NAME": "n"}) == Local(count=5, name="n")
    assert parse_environment(Local, {"TEST_NAME": "n", "TEST_COUNT": "3"}).count == 3
    with pytest.raises(ConfigError) as raised:
        parse_environment(Local, {"TEST_COUNT": "1"})
    assert str(raised.value) == (
        "TEST_NAME is not set; this function needs it; invalid configuration: TEST_COUNT: must be at least 2, got 1"
    )


def test_only_slashes_are_trimmed_from_a_base_url() -> None:
    """Host names are case-insensitive (RFC 3986, 3.2.2): an upper-case host is kept as written."""
    assert http_url("https://OPEN.LARK.BOX/") == "https://OPEN.LARK.BOX"
