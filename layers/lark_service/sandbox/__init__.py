"""A stand-in for the Lark Open Platform: a real HTTP server on loopback.

It follows the documented API (auth v3 token endpoints and their reissue rule, app_ticket
resend, message reply/create, error codes, rate-limit headers) rather than this project's client,
so tests written against it catch the client's mistakes instead of mirroring them.
"""

from __future__ import annotations

from lark_service.sandbox.control import SandboxControl
from lark_service.sandbox.server import SandboxServer
from lark_service.sandbox.state import SandboxApp, SandboxState

__all__ = ["SandboxApp", "SandboxControl", "SandboxServer", "SandboxState"]
