from __future__ import annotations

import pytest

from lark_service import cli


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
