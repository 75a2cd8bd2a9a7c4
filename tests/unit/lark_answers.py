"""Lark's HTTP answers as the transport receives them, for the transport's classification tests."""

from __future__ import annotations

import httpx


def answer(
    status: int, body: object = None, headers: dict[str, str] | None = None, text: str | None = None
) -> httpx.Response:
    """An answer with a JSON body (Lark's envelope), or a raw ``text`` body when given."""
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)
