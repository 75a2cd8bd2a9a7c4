"""``lark-service send-event``: sign (and encrypt) a sample push and POST it, as Lark would.

Defaults match ``lark-service dev`` (its embedded Encrypt Key and Verification Token, its URL);
``LARK_ENCRYPT_KEY`` / ``LARK_VERIFICATION_TOKEN`` in the environment or the flags override
them. ``--curl`` prints the equivalent curl command instead of sending.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import urllib.error
import urllib.request

from lark_service.local.samples import (
    KINDS,
    LOCAL_ENCRYPT_KEY,
    LOCAL_VERIFICATION_TOKEN,
    Credentials,
    signed_request,
)

DEFAULT_URL = "http://127.0.0.1:8080/lark/events"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kind", nargs="?", default="message", choices=KINDS, help="push shape (default: message)"
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"webhook URL (default {DEFAULT_URL})")
    parser.add_argument("--encrypt-key", default=os.environ.get("LARK_ENCRYPT_KEY", LOCAL_ENCRYPT_KEY))
    parser.add_argument(
        "--no-encrypt", action="store_true", help="send plaintext (for apps without an Encrypt Key)"
    )
    parser.add_argument(
        "--verification-token", default=os.environ.get("LARK_VERIFICATION_TOKEN", LOCAL_VERIFICATION_TOKEN)
    )
    parser.add_argument("--text", default="hello", help="a message push's text (try a command: /ping)")
    parser.add_argument("--event-id", help="fixed event id (send twice to see the duplicate handling)")
    parser.add_argument("--curl", action="store_true", help="print the equivalent curl command, do not send")
    parser.add_argument("--timeout", type=float, default=10.0)


def curl_command(url: str, headers: dict[str, str], body: bytes) -> str:
    parts = ["curl", "-sS", "-X", "POST", url]
    for name, value in headers.items():
        parts += ["-H", f"{name}: {value}"]
    parts += ["--data-binary", body.decode("utf-8")]
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    creds = Credentials(args.verification_token, None if args.no_encrypt else args.encrypt_key)
    headers, body = signed_request(args.kind, creds, event_id=args.event_id, text=args.text)
    if args.curl:
        print(curl_command(args.url, headers, body))
        return 0
    request = urllib.request.Request(args.url, data=body, headers=headers, method="POST")  # noqa: S310 - user's URL
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:  # noqa: S310
            status, text = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        print(f"lark-service send-event: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(status)
    print(text)
    return 0 if 200 <= status < 300 else 1
