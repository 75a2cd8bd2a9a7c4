"""Checked reads from decoded JSON: every failure names the field, so a 400 says what was wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lark_service.alerts.model import MalformedAlert, Status


def mapping(doc: Any, where: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise MalformedAlert(f"{where} must be a JSON object")
    return doc


def text(doc: dict[str, Any], name: str, where: str, *, required: bool = True) -> str:
    value = doc.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise MalformedAlert(f"{where}.{name} must be a non-empty string")
    return value


def labels(doc: dict[str, Any], name: str, where: str) -> dict[str, str]:
    value = doc.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MalformedAlert(f"{where}.{name} must be an object of strings")
    return value


def status(value: Any, where: str) -> Status:
    if value == "firing":
        return "firing"
    if value == "resolved":
        return "resolved"
    raise MalformedAlert(f"{where} must be 'firing' or 'resolved', got {value!r}")


def timestamp(value: Any, where: str) -> datetime | None:
    """An RFC 3339 time; Go's zero time (``0001-01-01T00:00:00Z``) means "not set"."""
    if not isinstance(value, str):
        raise MalformedAlert(f"{where} must be an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedAlert(f"{where} must be an RFC 3339 timestamp, got {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return None if parsed.year <= 1 else parsed
