"""``lark-service dev``: the app on a laptop, no AWS account, no Lark app, no Docker.

Starts moto's server with the stack's table and queues, runs each function in its own warm
child process (``lark_service.devtools.local.runner``), and serves the webhook over HTTP on
``http://127.0.0.1:8080/lark/events``: every request becomes a Function URL event for the real
handler. Functions' output is echoed prefixed with their name. Ctrl-C stops everything.

Extension points, so other parts plug in without editing this module:

* ``lark_service.devtools.local.dev_plugins``: each module listed in ``start_plugins`` has a
  ``start(app: LocalApp)`` that runs before the webhook starts and returns a stop function (or None). Example: an SQS poller for the worker
  calls ``app.runner.invoke("worker", sqs_event)`` in a thread until ``app.stopping`` is set.
* ``app.runner.add_output_hook(hook)``: ``hook(OutputLine(function, stream, text))`` receives
  every line any function prints; EMF documents are the lines containing ``"_aws"``.
* ``app.runner.env``: the environment every function starts with (the stack, the credentials).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lark_service.devtools.local.aws import FAKE_CREDENTIALS, Stack, create_stack, moto_server
from lark_service.devtools.local.runner import FunctionError, FunctionTimeout, Runner
from lark_service.devtools.local.samples import (
    LOCAL_APP_ID,
    LOCAL_APP_SECRET,
    LOCAL_ENCRYPT_KEY,
    LOCAL_VERIFICATION_TOKEN,
    function_url_event,
)

MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""Function URLs refuse larger payloads before the function runs; so does the local server."""

Stop = Callable[[], None]


@dataclass
class LocalApp:
    runner: Runner
    stack: Stack
    stopping: threading.Event = field(default_factory=threading.Event)
    print_lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, source: str, text: str) -> None:
        """Print one line prefixed with its source, as function output is."""
        with self.print_lock:
            print(f"[{source}] {text}", flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to serve the webhook on")
    parser.add_argument("--port", type=int, default=8080, help="webhook port (default 8080)")
    parser.add_argument(
        "--moto-port", type=int, default=0, help="port of the local AWS (default: a free one)"
    )
    parser.add_argument("--no-plugins", action="store_true", help="run only the webhook")
    parser.add_argument(
        "--show-emf", action="store_true", help="echo EMF lines too (they always reach /metrics)"
    )


def function_environment(stack: Stack) -> dict[str, str]:
    """Embedded defaults unless the caller's environment sets the Lark values."""
    env = {k: v for k, v in os.environ.items() if k not in ("LARK_SECRET_ID", "AWS_PROFILE")}
    env.update(FAKE_CREDENTIALS)
    env.update(stack.environ())
    defaults = {
        "LARK_APP_ID": LOCAL_APP_ID,
        "LARK_APP_SECRET": LOCAL_APP_SECRET,
        "LARK_ENCRYPT_KEY": LOCAL_ENCRYPT_KEY,
        "LARK_VERIFICATION_TOKEN": LOCAL_VERIFICATION_TOKEN,
    }
    for name, value in defaults.items():
        env[name] = os.environ.get(name) or value
    env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "LarkService")
    env.setdefault("LARK_DEMO_HANDLERS", "true")  # the local loop shows the demo bot's reply
    return env


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (curl's timeout, Ctrl-C) is not worth a traceback.
        error = sys.exc_info()[1]
        print(f"[http] connection from {client_address[0]} failed: {type(error).__name__}", file=sys.stderr)


def make_handler(app: LocalApp, function: str = "webhook") -> type[BaseHTTPRequestHandler]:
    """Serve HTTP as a Function URL serves ``function``: each request one invocation."""

    class WebhookRequestHandler(BaseHTTPRequestHandler):
        server_version = "lark-service-dev"
        protocol_version = "HTTP/1.1"
        # As a Function URL: no 40 ms Nagle/delayed-ACK stall between a reply's headers and body
        # on a kept-alive connection.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_REQUEST_BYTES:
                self._reply(413, {"error": "too_large", "msg": "request exceeds the 6 MB Function URL limit"})
                self.close_connection = True
                return
            raw = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            try:
                text, is_b64 = raw.decode("utf-8"), False
            except UnicodeDecodeError:
                text, is_b64 = base64.b64encode(raw).decode("ascii"), True
            event = function_url_event(self.command, path, dict(self.headers.items()), b"")
            event["rawQueryString"] = query
            event["body"], event["isBase64Encoded"] = text, is_b64
            try:
                result = app.runner.invoke(function, event)
                status = int(result.get("statusCode", 200))
                headers = result.get("headers") or {}
                body = result.get("body") or ""
                payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
            except FunctionTimeout:
                status, headers, payload = 504, {}, b'{"error":"timeout","msg":"the function timed out"}'
            except (FunctionError, ValueError, TypeError, AttributeError) as exc:
                app.log("dev", f"{function} invocation failed: {exc}")
                status, headers, payload = 502, {}, b'{"error":"function_error","msg":"the function failed"}'
            self._send(status, headers, payload)
            app.log("http", f"{self.command} {path} {status} {(time.perf_counter() - started) * 1000:.1f} ms")

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, {}, json.dumps(body).encode())

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            headers = {"content-type": "application/json", **{k.lower(): str(v) for k, v in headers.items()}}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up waiting; nothing to tell it

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return  # one line per request is printed by _serve instead

    return WebhookRequestHandler


def run_in_thread(name: str, loop: Callable[[], None], stop: threading.Event) -> Stop:
    """Run a plug-in's loop in a daemon thread; the returned function stops it and waits for it."""
    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=5)

    return halt


def _shown(env: dict[str, str], name: str, default: str) -> str:
    """The embedded default is printed so curl users can sign with it; a real secret never is."""
    return env[name] if env[name] == default else f"(from {name}, not shown)"


def start_plugins(app: LocalApp) -> list[Stop]:
    """Start each plug-in in order: the sandbox first (it sets ``LARK_BASE_URL``), then the
    metrics receiver (it hooks the functions' output), then what invokes the functions."""
    # Imported here: each plug-in imports this module for ``LocalApp``.
    from lark_service.devtools.local.dev_plugins import (  # noqa: PLC0415
        alerts,
        metrics,
        sandbox,
        token_refresh,
        worker,
    )

    stops: list[Stop] = []
    for module in (sandbox, metrics, worker, token_refresh, alerts):
        stop = module.start(app)
        app.log("dev", f"started plug-in {module.__name__.rsplit('.', 1)[-1]}")
        if stop is not None:
            stops.append(stop)
    return stops


def run(args: argparse.Namespace) -> int:
    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Both signals end in the same orderly shutdown (plug-ins, containers, moto, in that order).
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    stops: list[Stop] = []
    with ExitStack() as resources:
        try:
            # Bind first: a busy port should fail at once, before anything is started.
            try:
                server = _Server((args.host, args.port), BaseHTTPRequestHandler)
            except OSError as exc:
                print(
                    f"lark-service dev: cannot listen on {args.host}:{args.port}: {exc.strerror}",
                    file=sys.stderr,
                )
                return 1
            resources.callback(server.server_close)
            endpoint = resources.enter_context(moto_server(args.moto_port or None))
            stack = create_stack(endpoint)
            # The runner's own AWS calls (plug-ins polling the queue) go to the local stack too.
            os.environ.update(stack.environ())
            runner = Runner(function_environment(stack))
            resources.callback(runner.stop)
            app = LocalApp(runner, stack)
            runner.add_output_hook(
                lambda line: (
                    None if '"_aws"' in line.text and not args.show_emf else app.log(line.function, line.text)
                )
            )
            if not args.no_plugins:
                stops = start_plugins(app)
            runner.start("webhook")
            server.RequestHandlerClass = make_handler(app)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
            thread.start()
            resources.callback(server.shutdown)
            env = runner.env
            banner = [
                "lark-service dev: the app on embedded defaults (no AWS account, no Lark app needed)",
                f"  webhook             http://{args.host}:{server.server_port}/lark/events  (GET /health)",
                f"  local AWS (moto)    {endpoint}",
                f"  events queue        {stack.events_queue_url}",
                f"  idempotency table   {stack.idempotency_table}",
                f"  app id              {env['LARK_APP_ID']}",
                f"  encrypt key         {_shown(env, 'LARK_ENCRYPT_KEY', LOCAL_ENCRYPT_KEY)}",
                f"  verification token  {_shown(env, 'LARK_VERIFICATION_TOKEN', LOCAL_VERIFICATION_TOKEN)}",
                "  try: lark-service send-event        Ctrl-C stops everything",
            ]
            with app.print_lock:
                print("\n".join(banner), flush=True)
            while not app.stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        except FunctionError as exc:
            print(f"lark-service dev: a function failed to start: {exc}", file=sys.stderr)
            return 1
        finally:
            if "app" in locals():
                app.stopping.set()
            for stop in reversed(stops):
                try:
                    stop()
                except Exception as exc:
                    print(f"lark-service dev: a plug-in failed to stop: {exc}", file=sys.stderr)
            print("lark-service dev: stopping", file=sys.stderr, flush=True)
    return 0
