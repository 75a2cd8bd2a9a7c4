"""A stand-in for the Lark Open Platform: a real HTTP server on loopback.

It follows Lark's documented API and answers (auth v3 tokens and their reissue rule, store-app
tickets, im v1 message create/reply/patch with Lark's validation, rate limits, error envelope and
log ids), checked against the official SDK, rather than this project's client, so tests written
against it catch the client's mistakes instead of mirroring them. ``docs/sandbox.md`` says what
is faithful, simplified and not modelled.
"""

from __future__ import annotations

from lark_service.sandbox.clock import ManualTime, SandboxClock
from lark_service.sandbox.control import SandboxControl
from lark_service.sandbox.server import SandboxServer
from lark_service.sandbox.state import SandboxApp, SandboxState

__all__ = ["ManualTime", "SandboxApp", "SandboxClock", "SandboxControl", "SandboxServer", "SandboxState"]
