"""The transport as Lark sees it on the wire, and as the request metrics count it.

A real HTTP server on a free loopback port records each request. Expected values come from
Lark's Open Platform docs, not from the transport: a server API call carries
``Authorization: Bearer <access token>`` and ``Content-Type: application/json; charset=utf-8``
("调用服务端 API" / "How to call server-side APIs"); ``x-ogw-ratelimit-reset`` is the number of
seconds until the limit lifts (频控策略 / "Frequency control strategy").
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from lark_service.lark.errors import (
    AppTicketInvalid,
    CredentialsRejected,
    LarkApiError,
    LarkInvalidToken,
    LarkRateLimited,
    LarkTransientError,
)
from lark_service.lark.transport import Transport, _check, default_timeout
from tests.unit.lark_answers import answer as _answer
from tests.unit.metric_recorder import Emitted, record_metrics

ROUTE = "/open-apis/im/v1/messages/:message_id/reply"
PATH = "/open-apis/im/v1/messages/om_1/reply"
OK = {"code": 0, "msg": "success", "data": {"message_id": "om_2"}}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Lark:
    """A loopback server answering every request with ``status`` and ``body``; records what came in."""

    url: str
    seen: list[Seen] = field(default_factory=list)
    status: int = 200
    body: bytes = json.dumps(OK).encode()
    headers: dict[str, str] = field(default_factory=dict)
    hang: threading.Event | None = None


@pytest.fixture
def lark() -> Iterator[Lark]:
    state: Lark

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            state.seen.append(
                Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
            )
            if state.hang is not None:
                state.hang.wait(30)
                return
            self.send_response(state.status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Lark(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        if state.hang is not None:
            state.hang.set()
        server.shutdown()
        server.server_close()


def test_the_request_carries_lark_s_documented_headers(lark: Lark) -> None:
    transport = Transport(lark.url)
    try:
        answer = transport.call("POST", ROUTE, path=PATH, params={"a": "1"}, json={"x": "é"}, token="t-abc")
    finally:
        transport.close()
    assert answer == OK
    (seen,) = lark.seen
    assert (seen.method, seen.path) == ("POST", PATH + "?a=1")
    assert seen.headers["authorization"] == "Bearer t-abc"
    assert seen.headers["content-type"] == "application/json; charset=utf-8"
    assert seen.headers["user-agent"] == "lark-service"
    assert json.loads(seen.body) == {"x": "é"}


def test_a_call_without_a_token_sends_no_authorization(lark: Lark) -> None:
    transport = Transport(lark.url)
    try:
        transport.call("POST", "/open-apis/auth/v3/tenant_access_token/internal", json={"app_id": "cli_x"})
    finally:
        transport.close()
    (seen,) = lark.seen
    assert seen.path == "/open-apis/auth/v3/tenant_access_token/internal"
    assert "authorization" not in seen.headers


def test_the_route_is_called_when_no_path_is_given(lark: Lark) -> None:
    transport = Transport(lark.url)
    try:
        transport.call("GET", "/open-apis/im/v1/chats")
    finally:
        transport.close()
    assert [(s.method, s.path) for s in lark.seen] == [("GET", "/open-apis/im/v1/chats")]


def test_the_pooled_client_s_settings() -> None:
    """5 s per call, 2 s to connect (the worker's budget is 30 s); one pool per instance."""
    assert default_timeout() == httpx.Timeout(5.0, connect=2.0)
    assert default_timeout(1.0) == httpx.Timeout(1.0, connect=1.0)
    assert default_timeout(3.0) == httpx.Timeout(3.0, connect=2.0)
    transport = Transport("http://127.0.0.1:9")
    try:
        http = transport._http
        assert http.timeout == httpx.Timeout(5.0, connect=2.0)
        assert http.base_url == httpx.URL("http://127.0.0.1:9")
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert (pool._max_connections, pool._max_keepalive_connections) == (20, 10)
    finally:
        transport.close()
    own = Transport("http://127.0.0.1:9", timeout=httpx.Timeout(0.5))
    try:
        assert own._http.timeout == httpx.Timeout(0.5)
    finally:
        own.close()


def test_each_call_is_counted_by_route_template_and_timed(
    lark: Lark, monkeypatch: pytest.MonkeyPatch
) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.lark.transport")
    lark.status, lark.body = 400, json.dumps({"code": 230001, "msg": "bad param"}).encode()
    transport = Transport(lark.url)
    started = time.perf_counter()
    try:
        transport.call("POST", ROUTE, path=PATH, token="t")
        raise AssertionError("a refusal must raise")
    except LarkApiError:
        pass
    finally:
        elapsed = time.perf_counter() - started
        transport.close()
    assert emitted.named("ApiRequests") == [(1.0, {"method": "POST", "endpoint": ROUTE, "status": "400"})]
    [(seconds, dims)] = emitted.named("ApiRequestDuration")
    assert dims == {"method": "POST", "endpoint": ROUTE}
    assert 0.0 < seconds <= elapsed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_transient_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.lark.transport")
    transport = Transport(f"http://127.0.0.1:{_free_port()}")
    started = time.perf_counter()
    try:
        with pytest.raises(
            LarkTransientError, match=r"^/open-apis/im/v1/chats: connection failed \(ConnectError\)$"
        ):
            transport.call("GET", "/open-apis/im/v1/chats")
    finally:
        elapsed = time.perf_counter() - started
        transport.close()
    assert emitted.named("ApiRequests") == [
        (1.0, {"method": "GET", "endpoint": "/open-apis/im/v1/chats", "status": "error"})
    ]
    [(seconds, dims)] = emitted.named("ApiRequestDuration")
    assert dims == {"method": "GET", "endpoint": "/open-apis/im/v1/chats"}
    assert 0.0 < seconds <= elapsed


def test_a_timeout_is_transient_and_counted(lark: Lark, monkeypatch: pytest.MonkeyPatch) -> None:
    emitted = record_metrics(monkeypatch, "lark_service.lark.transport")
    lark.hang = threading.Event()
    transport = Transport(lark.url, timeout=httpx.Timeout(0.3))
    try:
        with pytest.raises(LarkTransientError, match=rf"^{ROUTE}: timed out \(ReadTimeout\)$"):
            transport.call("POST", ROUTE, path=PATH, token="t")
    finally:
        lark.hang.set()
        transport.close()
    assert emitted.named("ApiRequests") == [(1.0, {"method": "POST", "endpoint": ROUTE, "status": "timeout"})]
    [(seconds, _)] = emitted.named("ApiRequestDuration")
    assert 0.25 < seconds < 30.0


# --- classification at the edges (Lark's envelope: a JSON object with an integer ``code``) ---


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("0", 0.0), ("3", 3.0), ("2.5", 2.5), ("-4", 0.0), ("soon", 1.0), (None, 1.0)],
)
def test_the_reset_header_in_seconds(header: str | None, seconds: float) -> None:
    headers = {"x-ogw-ratelimit-reset": header} if header is not None else {}
    with pytest.raises(LarkRateLimited) as raised:
        _check(ROUTE, _answer(429, {"code": 99991400, "msg": "limit"}, headers))
    assert raised.value.reset_seconds == seconds
    with pytest.raises(LarkRateLimited) as bodyless:
        _check(ROUTE, _answer(429, text="Too Many Requests", headers=headers))
    assert bodyless.value.reset_seconds == seconds
    assert (bodyless.value.status, bodyless.value.code, bodyless.value.msg) == (429, -1, "rate limited")


@pytest.mark.parametrize("status", [400, 404, 499, 500, 503])
def test_a_bodyless_answer_is_transient_whatever_its_status(status: int) -> None:
    with pytest.raises(LarkTransientError) as raised:
        _check(ROUTE, _answer(status, text="<html>proxy</html>", headers={"x-tt-logid": "L1"}))
    assert str(raised.value) == f"{ROUTE}: HTTP {status} without Lark's JSON error body (log_id L1)"
    assert raised.value.log_id == "L1"


def test_a_5xx_with_lark_s_code_is_transient_and_named() -> None:
    with pytest.raises(LarkTransientError) as raised:
        _check(ROUTE, _answer(500, {"code": 55001, "msg": "internal"}, {"x-tt-logid": "L2"}))
    assert str(raised.value) == f"{ROUTE}: HTTP 500, code 55001: internal (log_id L2)"
    with pytest.raises(LarkApiError) as below:
        _check(ROUTE, _answer(499, {"code": 55001, "msg": "internal"}))
    assert type(below.value) is LarkApiError
    assert (below.value.status, below.value.code, below.value.msg) == (499, 55001, "internal")


def test_a_success_code_with_an_error_status_is_an_error() -> None:
    """code 0 at HTTP 400 is not a success: both the status and the code are read."""
    with pytest.raises(LarkApiError) as raised:
        _check(ROUTE, _answer(400, {"code": 0, "msg": "odd"}))
    assert (raised.value.status, raised.value.code) == (400, 0)
    assert _check(ROUTE, _answer(399, {"code": 0})) == {"code": 0}
    assert _check(ROUTE, _answer(302, {"code": 0})) == {"code": 0}


def test_the_message_defaults_to_empty_and_the_error_carries_every_field() -> None:
    with pytest.raises(LarkApiError) as raised:
        _check(ROUTE, _answer(400, {"code": 230001}))
    assert (raised.value.endpoint, raised.value.status, raised.value.code, raised.value.msg) == (
        ROUTE,
        400,
        230001,
        "",
    )
    assert raised.value.log_id is None
    assert str(raised.value) == f"{ROUTE}: HTTP 400, code 230001: "


@pytest.mark.parametrize(
    ("body", "log_id"),
    [
        ({"code": 230001, "msg": "x", "error": {"log_id": "B1"}}, "B1"),
        ({"code": 230001, "msg": "x", "error": {"log_id": ""}}, None),
        ({"code": 230001, "msg": "x", "error": {"log_id": 7}}, None),
        ({"code": 230001, "msg": "x", "error": "B1"}, None),
        ({"code": 230001, "msg": "x"}, None),
    ],
)
def test_the_body_s_log_id_only_when_it_is_text(body: dict[str, object], log_id: str | None) -> None:
    with pytest.raises(LarkApiError) as raised:
        _check(ROUTE, _answer(400, body))
    assert raised.value.log_id == log_id


def test_the_header_s_log_id_wins_over_the_body_s() -> None:
    response = _answer(400, {"code": 230001, "msg": "x", "error": {"log_id": "B1"}}, {"x-tt-logid": "H1"})
    with pytest.raises(LarkApiError) as raised:
        _check(ROUTE, response)
    assert raised.value.log_id == "H1"


def test_rate_limits_are_counted_on_the_route(monkeypatch: pytest.MonkeyPatch) -> None:
    emitted: Emitted = record_metrics(monkeypatch, "lark_service.lark.transport")
    for response in (_answer(429, text="slow"), _answer(400, {"code": 232019, "msg": "limited"})):
        with pytest.raises(LarkRateLimited):
            _check(ROUTE, response)
    with pytest.raises(LarkApiError):
        _check(ROUTE, _answer(400, {"code": 230001}))
    assert emitted.named("AuthRateLimitTriggered") == [(1.0, {"endpoint": ROUTE}), (1.0, {"endpoint": ROUTE})]


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 99991663, LarkInvalidToken),  # "Invalid access token for authorization"
        (401, 99991671, LarkInvalidToken),
        (400, 10014, CredentialsRejected),  # "app secret invalid"
        (200, 10003, CredentialsRejected),  # auth v3 answers HTTP 200 with the code
        (400, 10012, AppTicketInvalid),  # "app_ticket is invalid"
        (429, 99991400, LarkRateLimited),
        (400, 230020, LarkRateLimited),
        (403, 230002, LarkApiError),
    ],
)
def test_each_error_carries_the_route_status_code_message_and_log_id(
    status: int, code: int, kind: type[LarkApiError], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    response = _answer(status, {"code": code, "msg": f"lark says {code}"}, {"x-tt-logid": "LOG-1"})
    with pytest.raises(LarkApiError) as raised:
        _check(ROUTE, response)
    error = raised.value
    assert type(error) is kind
    assert (error.endpoint, error.status, error.code, error.msg, error.log_id) == (
        ROUTE,
        status,
        code,
        f"lark says {code}",
        "LOG-1",
    )
    assert str(error) == f"{ROUTE}: HTTP {status}, code {code}: lark says {code} (log_id LOG-1)"
    [logged] = [r for r in caplog.records if r.getMessage() == "Lark refused a call"]
    assert (logged.endpoint, logged.status, logged.code, logged.lark_msg, logged.log_id) == (  # type: ignore[attr-defined]
        ROUTE,
        status,
        code,
        f"lark says {code}",
        "LOG-1",
    )


def test_a_bodyless_refusal_is_logged_with_what_was_missing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with pytest.raises(LarkRateLimited) as raised:
        _check(ROUTE, _answer(429, text="slow down", headers={"x-tt-logid": "LOG-2"}))
    assert raised.value.log_id == "LOG-2"
    assert raised.value.endpoint == ROUTE
    [logged] = [r for r in caplog.records if r.getMessage() == "Lark refused a call"]
    assert (logged.endpoint, logged.status, logged.code, logged.lark_msg, logged.log_id) == (  # type: ignore[attr-defined]
        ROUTE,
        429,
        None,
        "no JSON body with an integer code",
        "LOG-2",
    )


def test_a_long_message_is_cut_in_the_log_but_kept_in_the_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    long = "m" * 300
    with pytest.raises(LarkApiError) as raised:
        _check(ROUTE, _answer(400, {"code": 230001, "msg": long}))
    assert raised.value.msg == long
    [logged] = [r for r in caplog.records if r.getMessage() == "Lark refused a call"]
    assert logged.lark_msg == "m" * 200  # type: ignore[attr-defined]
