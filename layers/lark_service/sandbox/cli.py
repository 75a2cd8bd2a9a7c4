"""``lark-service sandbox``: serve the Lark Open Platform stand-in.

Point ``LARK_BASE_URL`` at it. It knows one app, by default the one in ``LARK_APP_ID`` /
``LARK_APP_SECRET`` (or a built-in local pair), so the functions run unchanged against it.
"""

from __future__ import annotations

import argparse
import logging
import os

from lark_service.sandbox.server import SandboxServer
from lark_service.sandbox.state import SandboxApp, SandboxState

DEFAULT_APP_ID = "cli_sandbox_app"
DEFAULT_APP_SECRET = "sandbox-app-secret"  # noqa: S105 - a local stand-in's fixed credential


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port (default 8081)")
    parser.add_argument("--app-id", default=os.environ.get("LARK_APP_ID") or DEFAULT_APP_ID)
    parser.add_argument(
        "--app-secret",
        default=os.environ.get("LARK_APP_SECRET") or DEFAULT_APP_SECRET,
        help="defaults to LARK_APP_SECRET",
    )
    parser.add_argument(
        "--app-type",
        choices=("self_built", "marketplace"),
        default=os.environ.get("LARK_APP_TYPE") or "self_built",
    )
    parser.add_argument("--push-url", help="webhook URL that receives app_ticket pushes (store apps)")
    parser.add_argument("--verification-token", default=os.environ.get("LARK_VERIFICATION_TOKEN", ""))
    parser.add_argument("--encrypt-key", default=os.environ.get("LARK_ENCRYPT_KEY") or None)
    parser.add_argument(
        "--chat",
        action="append",
        default=[],
        help="a chat the bot is in (repeat for more); others answer 230002",
    )
    parser.add_argument(
        "--unseen-messages-chat",
        help="take replies to message ids the sandbox never saw as replies in this chat (default: refuse)",
    )


def build(args: argparse.Namespace) -> SandboxServer:
    state = SandboxState(
        [SandboxApp(args.app_id, args.app_secret, args.app_type)],
        chats=tuple(args.chat),
        unseen_messages_chat=args.unseen_messages_chat,
    )
    return SandboxServer(
        state,
        args.host,
        args.port,
        push_url=args.push_url,
        verification_token=args.verification_token,
        encrypt_key=args.encrypt_key,
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sandbox %(message)s")
    server = build(args)
    print(f"Lark sandbox on {server.url} (app {args.app_id}, {args.app_type}); control API at /_sandbox/")
    if server.push_url:
        app_id = args.app_id
        ticket = server.state.current_ticket(app_id)
        if ticket:
            server.push_ticket(app_id, ticket)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
