"""What the case-changing use cases need from storage (storage/cases.py provides it)."""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.core.case import OutgoingMessage


class CaseChanges(Protocol):
    def get_case(
        self, receipt_number: str, now_epoch: int | None = None
    ) -> dict[str, Any] | None: ...

    def link_use(self, unique_id: str) -> dict[str, Any] | None: ...

    def inbound_seen(self, ses_message_id: str) -> bool: ...

    def record_inbound(
        self, ses_message_id: str, attributes: dict[str, Any], *, quarantined: bool
    ) -> bool: ...

    def apply_change(
        self,
        case: dict[str, Any],
        *,
        changes: dict[str, Any],
        event: dict[str, Any],
        messages: list[OutgoingMessage],
        link_use: dict[str, Any] | None,
        mail_expires_at: int,
        inbound: dict[str, Any] | None = None,
        expert_load: dict[str, Any] | None = None,
        audit: dict[str, Any] | None = None,
        audit_expires: int | None = None,
    ) -> dict[str, Any]: ...
