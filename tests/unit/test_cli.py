from __future__ import annotations

import json
from pathlib import Path

import pytest

from lark_service import cli
from tests.conftest import EVENTS


def test_unknown_command_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'frobnicate'" in err
    assert "dev" in err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_dev_banner_shows_embedded_defaults_but_never_a_real_secret() -> None:
    from lark_service.local import dev, samples

    env = {"LARK_ENCRYPT_KEY": samples.LOCAL_ENCRYPT_KEY, "LARK_VERIFICATION_TOKEN": "real-token-123"}
    assert dev._shown(env, "LARK_ENCRYPT_KEY", samples.LOCAL_ENCRYPT_KEY) == samples.LOCAL_ENCRYPT_KEY
    shown = dev._shown(env, "LARK_VERIFICATION_TOKEN", samples.LOCAL_VERIFICATION_TOKEN)
    assert "real-token-123" not in shown
    assert "LARK_VERIFICATION_TOKEN" in shown


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lark-service {version('lark-service')}"


@pytest.mark.parametrize(
    ("typed", "folder"),
    [
        ("WebhookFunction", "webhook"),
        ("webhookfunction", "webhook"),
        ("worker", "worker"),
        ("TokenRefreshFunction", "token_refresh"),
        ("token_refresh", "token_refresh"),
    ],
)
def test_invoke_takes_logical_ids_and_folders(typed: str, folder: str) -> None:
    from lark_service.local import invoke

    assert invoke.resolve_function(typed) == folder


def _invoke(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(["invoke", *argv])
    return code, capsys.readouterr().err


def test_a_typo_lists_every_valid_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _invoke(capsys, "WebhookFuncton", "-e", "x.json")
    assert code == 2
    assert err.startswith("lark-service invoke: no function 'WebhookFuncton'; choose one of: ")
    for name in ("WebhookFunction", "WorkerFunction", "TokenRefreshFunction", "webhook", "token_refresh"):
        assert name in err


def test_bad_json_names_the_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text('{\n  "a": 1,\n}\n')
    code, err = _invoke(capsys, "worker", "-e", str(event))
    assert code == 2
    # json's own report of the same text is the oracle for the position
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(event.read_text())
    assert f"line {expected.value.lineno} column {expected.value.colno}" in err
    assert err.startswith(f"lark-service invoke: --event {event}: invalid JSON")


def test_a_missing_file_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _invoke(capsys, "webhook", "-e", "nope.json")
    assert (code, err.strip()) == (2, "lark-service invoke: --event nope.json: no such file")


def test_webhook_without_aws_says_what_to_add(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("IDEMPOTENCY_TABLE", "EVENTS_QUEUE_URL", "TOKEN_TABLE"):
        monkeypatch.delenv(name, raising=False)
    code, err = _invoke(capsys, "webhook", "-e", str(EVENTS / "url_verification.json"))
    assert code == 2
    assert "WebhookFunction needs IDEMPOTENCY_TABLE, EVENTS_QUEUE_URL: add --local-aws" in err
    assert "Traceback" not in err
