"""A client for the sandbox's control API, for tests and the local runner.

It speaks HTTP rather than touching ``SandboxState`` so it works the same whether the sandbox
runs in the test's process or in a child process of ``lark-service dev``.
"""

from __future__ import annotations

from typing import Any

import httpx


class SandboxControl:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/_sandbox/", timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, name: str, **kwargs: Any) -> Any:
        response = self._http.request(method, name, **kwargs)
        response.raise_for_status()
        return response.json()

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every request the Open API side received, oldest first (optionally only one path)."""
        recorded: list[dict[str, Any]] = self._call("GET", "requests")
        return [r for r in recorded if path is None or r["path"] == path]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def messages(self) -> list[dict[str, Any]]:
        """Messages the app sent (replies and new messages); de-duplicated uuids appear once."""
        sent: list[dict[str, Any]] = self._call("GET", "messages")
        return sent

    def seed_message(self, message_id: str, chat_id: str) -> None:
        """A message a user sent in ``chat_id`` (the bot is in it): replies to it are accepted."""
        self._call("POST", "messages", json={"message_id": message_id, "chat_id": chat_id})

    def add_chat(self, chat_id: str) -> None:
        """The bot joins ``chat_id``, so messages sent there stop answering 230002."""
        self._call("POST", "chats", json={"chat_id": chat_id})

    def add_fault(self, path: str, kind: str, count: int | None = 1, **options: Any) -> None:
        """Script a fault: ``kind`` is server_error, timeout, rate_limit or invalid_token.

        ``rate_limit`` answers 429 + 99991400; ``status=400`` gives the older APIs' form and
        ``code=230020`` the per-chat limit's.
        """
        self._call("POST", "faults", json={"path": path, "kind": kind, "count": count, **options})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def now(self) -> float:
        return float(self._call("GET", "clock")["now"])

    def advance_clock(self, seconds: float) -> None:
        self._call("POST", "clock", json={"advance": seconds})

    def revoke_tokens(self) -> int:
        return int(self._call("POST", "revoke")["revoked"])

    def app_ticket(self, app_id: str) -> str | None:
        ticket: str | None = self._call("GET", "app_ticket", params={"app_id": app_id})["app_ticket"]
        return ticket

    def issue_app_ticket(self, app_id: str, invalidate_old: bool = False) -> str:
        answer = self._call("POST", "app_ticket", json={"app_id": app_id, "invalidate": invalidate_old})
        return str(answer["app_ticket"])
