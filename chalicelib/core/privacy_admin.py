"""Use cases: a requester's personal data request, export (disclosure) or erasure, audited.

A requester is named by a receipt number or by email. By email, every case
filed under the address's digest is found (storage/keys.py); the address is
never stored, logged or audited, only its digest. An export writes an audit
record before it answers; an erasure writes each case's change in one
transaction with its audit records (a long case history in a few, each
audited). The monthly statistics counters hold no personal data and are
never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core import access as admin
from chalicelib.core import privacy
from chalicelib.core.errors import NotFound, VersionConflict
from chalicelib.core.roster_admin import audit_expiry
from chalicelib.core.settings import Settings
from chalicelib.core.timefmt import iso

# A case that moves while it is erased (a mail sent, a staff action) is read
# again and planned anew; after this many tries the admin is told (409).
MAX_ATTEMPTS = 3
AUDITS_PER_PART = 2
# TransactWriteItems takes 100 items; each part's audit records take two.
TRANSACTION_ROOM = 100 - AUDITS_PER_PART
TARGET = "requester"


class PrivacyStore(Protocol):
    def receipts_of(self, digest: str, now_epoch: int) -> list[str]: ...

    def case_partition(
        self, receipt_number: str, now_epoch: int, *, include_expired: bool = False
    ) -> list[dict[str, Any]]: ...

    def inbound_records(
        self, ses_message_ids: list[str], now_epoch: int
    ) -> list[dict[str, Any]]: ...

    def record_audit(self, entries: list[dict[str, Any]], audit_expires: int) -> None: ...

    def erase_part(
        self,
        receipt_number: str,
        part: privacy.ErasurePart,
        audits: list[dict[str, Any]],
        audit_expires: int,
    ) -> None: ...


@dataclass(frozen=True)
class Requester:
    """Who the request is about: `target_id` names them in the audit log (never an address)."""

    found_by: str  # "receipt_number" | "email"
    target_id: str
    receipts: list[str]
    digest: str | None = None


def find_requester(
    store: PrivacyStore,
    *,
    receipt_number: str | None,
    email: str | None,
    now: datetime,
) -> Requester:
    """The requester's cases. An unknown receipt number is NotFound; an unknown
    address simply has no cases (the answer to "what do you hold about me")."""
    now_epoch = int(now.timestamp())
    if receipt_number is not None:
        if not store.case_partition(receipt_number, now_epoch, include_expired=True):
            raise NotFound("case")
        return Requester("receipt_number", receipt_number, [receipt_number])
    if email is None:
        raise ValueError("a receipt number or an email is needed")
    digest = privacy.requester_digest(email)
    return Requester("email", digest, store.receipts_of(digest, now_epoch), digest)


def export_requester(
    store: PrivacyStore,
    actor: admin.Actor,
    *,
    receipt_number: str | None,
    email: str | None,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """Everything held about the requester, case by case; audited before it is returned."""
    requester = find_requester(store, receipt_number=receipt_number, email=email, now=now)
    now_epoch = int(now.timestamp())
    cases = []
    for receipt in requester.receipts:
        items = store.case_partition(receipt, now_epoch)
        if not items:
            continue
        inbound = store.inbound_records(privacy.inbound_ids(items), now_epoch)
        cases.append(privacy.export_case(items, inbound))
    entry = admin.audit_entry(
        actor,
        action="requester.export",
        target_type=TARGET,
        target_id=requester.target_id,
        at=now,
        detail={
            "cases": len(cases),
            "receipt_numbers": [c["case"].get("receipt_number") for c in cases],
        },
    )
    store.record_audit([entry], audit_expiry(settings, now))
    return {
        "found_by": requester.found_by,
        "requester_digest": requester.digest,
        "exported_at": iso(now),
        "count": len(cases),
        "cases": cases,
    }


def _erase_case(
    store: PrivacyStore,
    actor: admin.Actor,
    requester: Requester,
    receipt: str,
    *,
    now: datetime,
    settings: Settings,
) -> dict[str, Any] | None:
    now_epoch = int(now.timestamp())
    for _attempt in range(MAX_ATTEMPTS):
        items = store.case_partition(receipt, now_epoch, include_expired=True)
        plan = privacy.plan_erasure(items, now=now, actor=actor.actor)
        if plan is None:
            return None
        # Nothing left to remove (erased before): nothing is written or audited.
        parts = privacy.parts_of(plan, room=TRANSACTION_ROOM) if plan.changed else []
        try:
            for index, part in enumerate(parts, start=1):
                fields = sorted({f"{r.part}.{name}" for r in part.rewrites for name in r.removed})
                detail: dict[str, Any] = {
                    "receipt_number": receipt,
                    "items": len(part.rewrites),
                    "cancelled_mail": sum(r.cancels for r in part.rewrites),
                }
                if len(parts) > 1:
                    detail.update(part=index, parts=len(parts))
                audits = [
                    admin.audit_entry(
                        actor,
                        action="requester.erase",
                        target_type=target_type,
                        target_id=target_id,
                        at=now,
                        fields=fields,
                        detail=detail,
                    )
                    for target_type, target_id in (
                        (TARGET, requester.target_id),
                        ("case", receipt),
                    )
                ]
                store.erase_part(receipt, part, audits, audit_expiry(settings, now))
        except VersionConflict:
            continue
        return {
            "receipt_number": receipt,
            "changed": plan.changed,
            "items": len(plan.rewrites),
            "cancelled_mail": plan.cancelled_mail,
            "removed_fields": plan.removed_fields(),
            "anonymised_at": plan.anonymised_at,
        }
    raise VersionConflict()


def erase_requester(
    store: PrivacyStore,
    actor: admin.Actor,
    *,
    receipt_number: str | None,
    email: str | None,
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """Anonymise every case of the requester (idempotent: a second run changes nothing)."""
    requester = find_requester(store, receipt_number=receipt_number, email=email, now=now)
    erased = []
    for receipt in requester.receipts:
        outcome = _erase_case(store, actor, requester, receipt, now=now, settings=settings)
        if outcome is not None:
            erased.append(outcome)
    return {
        "found_by": requester.found_by,
        "requester_digest": requester.digest,
        "erased_at": iso(now),
        "count": len(erased),
        "cases": erased,
    }
