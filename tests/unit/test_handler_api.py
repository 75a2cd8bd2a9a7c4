"""The handler API: registration, command routing, discovery, and the webhook's import rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lark_service import handlers
from lark_service.app import CardContext, Envelope, HandlerContext, LarkApp
from tests.conftest import ROOT


def message(text: str, message_type: str = "text") -> Envelope:
    body = {
        "schema": "2.0",
        "header": {"event_id": "e1", "event_type": "im.message.receive_v1"},
        "event": {
            "message": {
                "message_id": "om_1",
                "message_type": message_type,
                "content": json.dumps({"text": text}),
            }
        },
    }
    return Envelope("event", "2.0", "e1", "im.message.receive_v1", None, 0.0, body)


def rigged() -> tuple[LarkApp, list[tuple[str, str]]]:
    app, calls = LarkApp(), []

    @app.event("im.message.receive_v1")
    def on_message(event: Envelope, ctx: HandlerContext) -> None:
        calls.append(("message", ""))

    @app.command("/help")
    def on_help(event: Envelope, ctx: HandlerContext, args: str) -> None:
        calls.append(("help", args))

    return app, calls


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/help", ("help", "")),
        ("/help  me now ", ("help", "me now")),
        ("@_user_1 /help topics", ("help", "topics")),  # Lark's mention placeholder comes first
        ("/HELP x", ("help", "x")),
        ("/helpme", ("message", "")),  # another word, not the command
        ("/other", ("message", "")),
        ("help", ("message", "")),
        ("say /help", ("message", "")),
    ],
)
def test_commands_come_before_the_message_handler(text: str, expected: tuple[str, str]) -> None:
    app, calls = rigged()
    handler = app.handler_for(message(text))
    assert handler is not None
    handler(message(text), None)  # type: ignore[arg-type]
    assert calls == [expected]


def test_non_text_messages_never_match_a_command() -> None:
    app, calls = rigged()
    handler = app.handler_for(message("/help", message_type="image"))
    assert handler is not None
    handler(message("/help"), None)  # type: ignore[arg-type]
    assert calls == [("message", "")]


def test_an_unregistered_type_has_no_handler() -> None:
    app, _ = rigged()
    other = Envelope("event", "2.0", "e2", "contact.user.created_v3")
    assert app.handler_for(other) is None


def test_a_second_registration_names_both_functions() -> None:
    app, _ = rigged()
    with pytest.raises(ValueError, match=r"registered already .*on_message.*mine"):

        @app.event("im.message.receive_v1")
        def mine(event: Envelope, ctx: HandlerContext) -> None: ...


@pytest.mark.parametrize("name", ["help", "/", "/two words", ""])
def test_command_names_must_look_like_commands(name: str) -> None:
    with pytest.raises(ValueError, match="must look like /name"):
        LarkApp().command(name)


def test_card_handlers_fall_back_to_the_default() -> None:
    app = LarkApp()

    @app.card("approve")
    def approve(event: Envelope, ctx: CardContext) -> dict[str, Any]:
        return {"toast": "a"}

    @app.card()
    def other(event: Envelope, ctx: CardContext) -> dict[str, Any]:
        return {"toast": "b"}

    assert app.card_handler_for("approve") is approve
    assert app.card_handler_for("reject") is other
    assert app.card_handler_for(None) is other


def test_demos_load_only_when_asked() -> None:
    without = handlers.modules(demo=False)
    assert "lark_service.handlers.app_ticket" in without
    assert not [m for m in without if ".demo" in m]
    with_demo = handlers.modules(demo=True)
    assert {"lark_service.handlers.demo.echo_bot", "lark_service.handlers.demo.toast_card"} <= set(with_demo)


def test_a_new_module_in_the_package_is_found_without_being_listed(tmp_path: Path) -> None:
    (tmp_path / "greeter.py").write_text("")
    (tmp_path / "_private.py").write_text("")
    handlers.__path__.append(str(tmp_path))
    try:
        found = handlers.modules(demo=False)
    finally:
        handlers.__path__.remove(str(tmp_path))
    assert "lark_service.handlers.greeter" in found
    assert "lark_service.handlers._private" not in found


def test_every_handler_module_imports_as_the_webhook_image_has_it() -> None:
    """The webhook image has no HTTP client; card callbacks import every handler module there."""
    script = (
        "import sys\n"
        "sys.modules['httpx'] = None  # as absent as in the webhook image\n"
        "from lark_service import handlers\n"
        "for name in handlers.modules(demo=True):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError as exc:\n"
        "        sys.exit(f'{name} imports {exc.name} at import time; the webhook image lacks it')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_webhook_image_really_lacks_the_http_client() -> None:
    """The rule above guards something real: the webhook's pinned requirements carry no httpx."""
    lines = (ROOT / "functions" / "webhook" / "requirements.txt").read_text().splitlines()
    assert not [line for line in lines if line.strip().lower().startswith("httpx")]
