"""Post a group's card once, then keep patching that same card until the group resolves.

Redelivery never makes a second card: the group's message id is looked up first, a card whose
content has not changed is not sent again, and a new card is created with Lark's ``uuid`` (Lark
answers a repeated ``uuid`` within an hour with the message it already made), so even two
deliveries racing past the lookup end on one message. A group that fires again after it
resolved starts a new episode, and so a new card: people must notice a recurrence. A
"resolved" notice for a group that never had a card (CloudWatch's INSUFFICIENT_DATA → OK after a
deploy, or an alert that fired before the notifier existed) posts nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from lark_service.alerts.card import render_card
from lark_service.alerts.model import AlertGroup
from lark_service.alerts.store import CardRecord
from lark_service.lark.errors import CredentialsRejected, LarkApiError, LarkInvalidToken, LarkRateLimited

Outcome = Literal["posted", "updated", "unchanged", "skipped"]


class CardClient(Protocol):
    """What the notifier needs of ``lark_service.lark.client.LarkClient``."""

    def send_message(
        self,
        receive_id_type: str,
        receive_id: str,
        *,
        msg_type: str,
        content: dict[str, Any],
        uuid: str | None = None,
        tenant_key: str | None = None,
    ) -> dict[str, Any]: ...

    def patch_message(
        self, message_id: str, *, card: dict[str, Any], tenant_key: str | None = None
    ) -> dict[str, Any]: ...


class CardStore(Protocol):
    def get(self, group_key: str) -> CardRecord | None: ...

    def put(self, group_key: str, record: CardRecord, *, new_card: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    group_key: str
    outcome: Outcome
    message_id: str | None = None


class AlertNotifier:
    def __init__(
        self,
        lark: CardClient,
        store: CardStore,
        chat_id: str,
        *,
        runbook_url: str | None = None,
        tenant_key: str | None = None,
        log: Any = None,
    ) -> None:
        self._lark = lark
        self._store = store
        self._chat_id = chat_id
        self._runbook_url = runbook_url
        self._tenant_key = tenant_key
        self._log = log

    def deliver(self, group: AlertGroup) -> Delivery:
        """Show ``group`` in the chat. Lark and DynamoDB failures propagate (the sender retries)."""
        card = render_card(group, self._runbook_url)
        digest = card_digest(card)
        record = self._store.get(group.key)
        if record is not None and not (record.status == "resolved" and group.status == "firing"):
            if record.card_sha256 == digest:
                return Delivery(group.key, "unchanged", record.message_id)
            if self._update(record.message_id, card):
                self._store.put(
                    group.key,
                    CardRecord(record.message_id, record.episode, group.status, digest),
                    new_card=False,
                )
                return Delivery(group.key, "updated", record.message_id)
        elif record is None and group.status == "resolved":
            return Delivery(group.key, "skipped")
        episode = record.episode + 1 if record else 1
        sent = self._lark.send_message(
            "chat_id",
            self._chat_id,
            msg_type="interactive",
            content=card,
            uuid=hashlib.sha256(f"{group.key}#{episode}".encode()).hexdigest()[:40],
            tenant_key=self._tenant_key,
        )
        message_id = sent.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise LarkApiError("/open-apis/im/v1/messages", 200, 0, "answer lacks data.message_id")
        self._store.put(group.key, CardRecord(message_id, episode, group.status, digest), new_card=True)
        return Delivery(group.key, "posted", message_id)

    def _update(self, message_id: str, card: dict[str, Any]) -> bool:
        """Patch the card; False when Lark will not update it (recalled, deleted, too old)."""
        try:
            self._lark.patch_message(message_id, card=card, tenant_key=self._tenant_key)
        except (LarkRateLimited, LarkInvalidToken, CredentialsRejected):
            raise
        except LarkApiError as exc:
            if self._log is not None:
                self._log.warning("card update refused; posting a new card", extra={"error": str(exc)})
            return False
        return True


def card_digest(card: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(card, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
