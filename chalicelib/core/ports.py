"""What the use cases are handed: the invocation's `Desk`, and the storage ports (storage/ provides them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core.case import OutgoingMessage
from chalicelib.core.deployment import Deployment
from chalicelib.core.settings import Settings
from chalicelib.core.staff import DeskStaff


@dataclass(frozen=True)
class Desk:
    """One invocation's view of the desk, built once (runtime.desk()) and passed on whole:
    the settings, the deployment with the current categories and support types, the
    desk's staff, and the moment the invocation acts at."""

    settings: Settings
    deployment: Deployment
    staff: DeskStaff
    now: datetime

    def at(self, now: datetime) -> Desk:
        """The same desk at another moment (scheduled runs, tests of time)."""
        return dataclasses.replace(self, now=now)


@dataclass(frozen=True)
class IntakeDesk:
    """What a submission is handed (runtime.intake_desk()), built without reading the table:
    the settings, the deployment, and now. The desk's staff are not needed (the outbox
    addresses the notices when it sends them).

    `taxonomy_applied`: the deployment carries the stored taxonomy (this process held a
    fresh directory); otherwise it is the deployment file's, and the intake write checks the
    chosen ids against the stored taxonomy itself. `reread` reads the taxonomy now in force
    (one Query): the deployment with it applied, and its version. Only a failed check calls it.
    """

    settings: Settings
    deployment: Deployment
    now: datetime
    taxonomy_applied: bool
    reread: Callable[[], tuple[Deployment, int]]


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
