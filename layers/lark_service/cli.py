"""The ``lark-service`` command.

Each subcommand lives in its own module, imported only when it runs, so ``lark-service exporter``
does not pay for the local runner and vice versa. A module provides ``add_arguments(parser)`` and
``run(args) -> int``.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - the one place that must run on older Pythons
    sys.exit(f"lark-service needs Python 3.11 or newer; this is {sys.version.split()[0]} ({sys.executable})")

import argparse
import importlib
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "dev": ("lark_service.local.dev", "run the whole app locally (webhook, queue, worker, sandbox, metrics)"),
    "invoke": ("lark_service.local.invoke", "invoke one function with an event file, as `sam local invoke`"),
    "send-event": ("lark_service.local.send_event", "sign, encrypt and post a sample push to a webhook"),
    "sandbox": ("lark_service.sandbox.cli", "serve the Lark Open Platform stand-in"),
    "exporter": ("lark_service.exporter.cli", "receive EMF (TCP/UDP 25888, stdin, files) and serve /metrics"),
    "render": ("lark_service.render.cli", "regenerate the monitoring files from the metric catalog"),
}


def _usage() -> str:
    lines = ["usage: lark-service COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<12} {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += [
        "",
        "`lark-service COMMAND --help` describes a command's options; --version prints the version.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        from importlib.metadata import version  # noqa: PLC0415

        print(f"lark-service {version('lark-service')}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(
            f"lark-service: unknown command {name!r}; choose one of: {', '.join(COMMANDS)}", file=sys.stderr
        )
        return 2
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"lark-service {name}", description=help_text)
    module.add_arguments(parser)
    result: int = module.run(parser.parse_args(rest))
    return result


if __name__ == "__main__":
    sys.exit(main())
