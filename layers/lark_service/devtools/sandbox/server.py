"""The sandbox's HTTP side: the Open API paths, and a control API under ``/_sandbox/``.

A threading stdlib server is enough: the sandbox serves tests and a laptop, and a thread per
request lets a "timeout" fault hold one answer back while others go through. Given a webhook
URL, it pushes each store app's ``app_ticket`` every hour of its clock, as Lark does.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lark_service.devtools.sandbox.push import app_ticket_event, push_in_background, push_request
from lark_service.devtools.sandbox.state import FaultRule, SandboxState

CONTROL = "/_sandbox/"
MAX_BODY = 1024 * 1024


class SandboxServer:
    """Serve a ``SandboxState`` on ``host:port`` (port 0: any free port) in a background thread."""

    def __init__(
        self,
        state: SandboxState,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        push_url: str | None = None,
        verification_token: str = "",
        encrypt_key: str | None = None,
        ticket_check_interval: float = 1.0,
    ) -> None:
        self.state = state
        self.ticket_check_interval = ticket_check_interval
        self.push_url = push_url
        self.verification_token = verification_token
        self.encrypt_key = encrypt_key
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._pusher: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="lark-sandbox", daemon=True)
        self._thread.start()
        self._start_pusher()
        return self

    def serve_forever(self) -> None:
        self._start_pusher()
        self._httpd.serve_forever()

    def _start_pusher(self) -> None:
        if self.push_url and self._pusher is None:
            self._pusher = threading.Thread(
                target=self._push_tickets, name="lark-sandbox-tickets", daemon=True
            )
            self._pusher.start()

    def _push_tickets(self) -> None:
        """Every hour of the sandbox's clock, a new ticket for each store app, pushed."""
        while not self.stopping.wait(self.ticket_check_interval):
            for app_id, ticket in self.state.due_tickets():
                self.push_ticket(app_id, ticket)

    def close(self) -> None:
        """Release the socket after ``serve_forever`` returned (foreground use)."""
        self.stopping.set()
        self._httpd.server_close()

    def stop(self) -> None:
        self.stopping.set()  # releases answers held back by a timeout fault
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in (self._thread, self._pusher):
            if thread is not None:
                thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def push_ticket(self, app_id: str, ticket: str) -> bool:
        if not self.push_url:
            return False
        event = app_ticket_event(app_id, ticket, self.verification_token)
        push_in_background(push_request(self.push_url, event, self.encrypt_key))
        return True

    # --- control API -------------------------------------------------------------------------
    def control(self, method: str, name: str, query: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        state = self.state
        if (method, name) == ("GET", "health"):
            return 200, {"ok": True}
        if (method, name) == ("GET", "requests"):
            return 200, state.requests()
        if (method, name) == ("DELETE", "requests"):
            state.clear_requests()
            return 200, {"ok": True}
        if (method, name) == ("GET", "messages"):
            return 200, state.messages()
        if (method, name) == ("POST", "messages"):
            state.seed_message(str(body["message_id"]), str(body["chat_id"]))
            return 200, {"ok": True}
        if (method, name) == ("POST", "chats"):
            state.add_chat(str(body["chat_id"]))
            return 200, {"ok": True}
        if (method, name) == ("POST", "faults"):
            fields = {k: body[k] for k in FaultRule.__dataclass_fields__ if k in body}
            state.add_fault(FaultRule(**fields))
            return 200, {"ok": True}
        if (method, name) == ("DELETE", "faults"):
            state.clear_faults()
            return 200, {"ok": True}
        if (method, name) == ("GET", "clock"):
            return 200, {"now": state.clock.now()}
        if (method, name) == ("POST", "clock"):
            return 200, {"offset": state.clock.advance(float(body["advance"]))}
        if (method, name) == ("POST", "revoke"):
            return 200, {"revoked": state.revoke_tokens()}
        if (method, name) == ("GET", "app_ticket"):
            return 200, {"app_ticket": state.current_ticket(query.get("app_id", ""))}
        if (method, name) == ("POST", "app_ticket"):
            app_id = str(body["app_id"])
            if body.get("invalidate"):
                state.invalidate_tickets(app_id)
            ticket = state.issue_ticket(app_id)
            return 200, {"app_ticket": ticket, "pushed": self.push_ticket(app_id, ticket)}
        if (method, name) == ("GET", "state"):
            return 200, state.snapshot()
        return 404, {"error": f"no control endpoint {method} {CONTROL}{name}"}


def _handler_for(server: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "lark-sandbox"
        # Headers and body leave in two writes. With Nagle's algorithm on, the body of every
        # answer after a connection's first waits for the client's delayed ACK (40 ms on Linux):
        # a stall no Lark server adds, which made every second call on a kept-alive connection
        # look 40 ms slow.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the request record is the log."""

        def _read(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(413, {"code": 413, "msg": "request body too large"})
                return None
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        def _dispatch(self, method: str) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            raw = self._read()
            if raw is None:
                return
            if parsed.path.startswith(CONTROL):
                self._control(method, parsed.path[len(CONTROL) :], query, raw)
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = server.state.handle(method, parsed.path, query, headers, raw)
            if reply.delay and server.stopping.wait(reply.delay):
                return
            self._send(reply.status, reply.body, reply.headers)
            if parsed.path == "/open-apis/auth/v3/app_ticket/resend" and reply.body.get("code") == 0:
                app_id = str(json.loads(raw).get("app_id", ""))
                ticket = server.state.current_ticket(app_id)
                if ticket:
                    server.push_ticket(app_id, ticket)

        def _control(self, method: str, name: str, query: dict[str, str], raw: bytes) -> None:
            try:
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise TypeError("body must be a JSON object")
                status, answer = server.control(method, name, query, body)
            except (KeyError, TypeError, ValueError) as exc:
                status, answer = 400, {"error": f"{type(exc).__name__}: {exc}"}
            self._send(status, answer)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler
