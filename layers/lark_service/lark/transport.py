"""One pooled HTTP connection set to Lark, with every call counted and timed.

Auth calls and API calls share it so that one Lambda instance keeps one TLS pool warm across
invocations, and so that every call, whatever made it, shows up in the request metrics by its
route template (never by the ids inside the path, which would explode the series count).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from lark_service.lark.errors import (
    APP_TICKET_INVALID_CODE,
    CREDENTIAL_CODES,
    INVALID_TOKEN_CODES,
    RATE_LIMIT_CODES,
    AppTicketInvalid,
    CredentialsRejected,
    LarkApiError,
    LarkInvalidToken,
    LarkRateLimited,
    LarkTransientError,
)
from lark_service.observability import emit, logger

RESET_HEADER = "x-ogw-ratelimit-reset"
LOG_ID_HEADER = "x-tt-logid"  # lark_oapi/core/const.py: X_TT_LOGID
DEFAULT_RESET_SECONDS = 1.0


def default_timeout(total: float = 5.0) -> httpx.Timeout:
    """Short and explicit: the worker's whole budget is 30 s and Lark's p99 is well under one."""
    return httpx.Timeout(total, connect=min(2.0, total))


class Transport:
    def __init__(
        self, base_url: str, *, timeout: httpx.Timeout | None = None, client: httpx.Client | None = None
    ) -> None:
        self._http = client or httpx.Client(
            base_url=base_url,
            timeout=timeout or default_timeout(),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            headers={"User-Agent": "lark-service"},
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        route: str,
        *,
        path: str | None = None,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Call ``route`` (the template; ``path`` is the filled-in form) and return the JSON body.

        Raises the ``lark_service.lark.errors`` class that says what to do about a failure.
        """
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            response = self._http.request(method, path or route, params=params, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            self._count(method, route, "timeout", started)
            raise LarkTransientError(f"{route}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            self._count(method, route, "error", started)
            raise LarkTransientError(f"{route}: connection failed ({type(exc).__name__})") from exc
        self._count(method, route, str(response.status_code), started)
        return _check(route, response)

    @staticmethod
    def _count(method: str, route: str, status: str, started: float) -> None:
        emit("ApiRequests", method=method, endpoint=route, status=status)
        emit("ApiRequestDuration", time.perf_counter() - started, method=method, endpoint=route)


def _check(route: str, response: httpx.Response) -> dict[str, Any]:
    """The answer's body when Lark says ``code`` 0 with a 2xx/3xx status, else the error to raise.

    Some errors come with HTTP 200 and a non-zero code (auth v3), so both are read. Every failure
    is logged once with Lark's log id, and every rate-limit form is counted.
    """
    status = response.status_code
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    log_id = response.headers.get(LOG_ID_HEADER) or _body_log_id(body)
    # Lark always answers a JSON object with an integer code; anything else (an HTML error page,
    # {"code": "InternalError"}, {"code": null}, 1e400) came from something in front of Lark
    # failing, so it is a server error: retried, never a crash of the caller.
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(code, int) or isinstance(code, bool):
        _log_refusal(route, status, None, "no JSON body with an integer code", log_id)
        if status == 429:
            emit("AuthRateLimitTriggered", endpoint=route)
            raise LarkRateLimited(route, status, -1, "rate limited", _reset_seconds(response), log_id=log_id)
        raise LarkTransientError(f"{route}: HTTP {status} without Lark's JSON error body", log_id=log_id)
    msg = str(body.get("msg", ""))
    if status < 400 and code == 0:
        return body
    _log_refusal(route, status, code, msg, log_id)
    if status == 429 or code in RATE_LIMIT_CODES:
        emit("AuthRateLimitTriggered", endpoint=route)
        raise LarkRateLimited(route, status, code, msg, _reset_seconds(response), log_id=log_id)
    if code in INVALID_TOKEN_CODES:
        raise LarkInvalidToken(route, status, code, msg, log_id=log_id)
    if code in CREDENTIAL_CODES:
        raise CredentialsRejected(route, status, code, msg, log_id=log_id)
    if code == APP_TICKET_INVALID_CODE:
        raise AppTicketInvalid(route, status, code, msg, log_id=log_id)
    if status >= 500:
        raise LarkTransientError(f"{route}: HTTP {status}, code {code}: {msg}", log_id=log_id)
    raise LarkApiError(route, status, code, msg, log_id=log_id)


def _body_log_id(body: Any) -> str | None:
    """im v1 errors repeat the log id in ``error.log_id`` (lark_oapi/core/model/error.py)."""
    details = body.get("error") if isinstance(body, dict) else None
    log_id = details.get("log_id") if isinstance(details, dict) else None
    return log_id if isinstance(log_id, str) and log_id else None


def _log_refusal(route: str, status: int, code: int | None, msg: str, log_id: str | None) -> None:
    logger.warning(
        "Lark refused a call",
        extra={"endpoint": route, "status": status, "code": code, "lark_msg": msg[:200], "log_id": log_id},
    )


def _reset_seconds(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get(RESET_HEADER, DEFAULT_RESET_SECONDS)))
    except ValueError:
        return DEFAULT_RESET_SECONDS
