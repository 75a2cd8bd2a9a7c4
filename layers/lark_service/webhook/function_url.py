"""The Lambda Function URL event format (payload 2.0), in and out.

Kept apart from the pipeline so the same pipeline can sit behind any front end; the local runner
builds these events too, so ``lark-service dev`` drives the real handler.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from lark_service.webhook.protocol import Rejected, Reply, Request


def to_request(event: Any) -> Request:
    """Build a ``Request``; the pipeline checks its size (Lambda caps a request at 6 MB anyway)."""
    if not isinstance(event, Mapping):
        raise Rejected(400, "bad_event", "not a Function URL event: the event is not a JSON object")
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, Mapping) else None
    method = http.get("method") if isinstance(http, Mapping) else None
    path = event.get("rawPath") or (http.get("path") if isinstance(http, Mapping) else None)
    headers = event.get("headers")
    body = event.get("body")
    if not isinstance(method, str) or not isinstance(path, str):
        raise Rejected(
            400, "bad_event", "not a Function URL event: requestContext.http.method or rawPath missing"
        )
    if not isinstance(headers, Mapping):
        headers = {}
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise Rejected(400, "bad_event", "the event's body is not a string")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(
                400, "bad_base64", "body is flagged isBase64Encoded but is not valid base64"
            ) from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    return Request.create(method, path, {str(k): str(v) for k, v in headers.items()}, raw)


def to_response(reply: Reply) -> dict[str, Any]:
    return {
        "statusCode": reply.status,
        "headers": {"content-type": "application/json", **reply.headers},
        "body": reply.json(),
        "isBase64Encoded": False,
    }
