"""A fictitious demo roster of experts (role labels only) for the local stack."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# The entries keep their short demo names (label, role, email); the Expert
# model (chalicelib/core/roster.py) reads them as display_name, kind and
# contact_emails. Category ids and support type ids are those of
# chalicelib/data/deployment.json; area ids are its municipality ids.


def _expert(
    expert_id: str,
    label: str,
    categories: tuple[str, ...],
    support_types: tuple[str, ...],
    *,
    areas: tuple[str, ...] = (),
    online_ok: bool = True,
    capacity: int = 3,
) -> dict[str, Any]:
    role, _, _ = expert_id.partition("-")
    domain = "example.com" if role == "advisor" else "example.jp"
    return {
        "expert_id": expert_id,
        "label": label,
        "role": role,
        "categories": list(categories),
        "support_types": list(support_types),
        "email": f"{expert_id}@{domain}",
        "areas": list(areas),
        "online_ok": online_ok,
        "capacity": capacity,
        "active": True,
        "conflicts": [],
    }


ROSTER: list[dict[str, Any]] = [
    _expert("advisor-a", "アドバイザーA", ("mindset", "talent"), ("training", "consultation")),
    _expert("advisor-b", "アドバイザーB", ("mindset",), ("consultation",)),
    _expert("advisor-c", "アドバイザーC", ("talent",), ("training", "information")),
    _expert("advisor-d", "アドバイザーD", ("workstyle",), ("training", "consultation")),
    _expert("advisor-e", "アドバイザーE", ("workstyle", "technology"), ("consultation",)),
    _expert("advisor-f", "アドバイザーF", ("data",), ("training", "consultation")),
    _expert("advisor-g", "アドバイザーG", ("data", "technology"), ("information", "consultation")),
    _expert("advisor-h", "アドバイザーH", ("technology",), ("consultation",)),
    _expert("advisor-i", "アドバイザーI", ("mindset", "workstyle"), ("training",)),
    _expert("advisor-j", "アドバイザーJ", ("talent", "data"), ("training", "information")),
    _expert("advisor-k", "アドバイザーK", ("technology",), ("information",)),
    _expert("advisor-l", "アドバイザーL", ("mindset", "data"), ("consultation",)),
    _expert(
        "advisor-m",
        "アドバイザーM",
        ("workstyle",),
        ("information", "consultation"),
        areas=("24201", "24204"),
        online_ok=False,
    ),
    _expert("advisor-n", "アドバイザーN", ("talent",), ("training",)),
    _expert("advisor-o", "アドバイザーO", ("data",), ("information",)),
    _expert("advisor-p", "アドバイザーP", ("mindset", "technology"), ("training", "consultation")),
    _expert("advisor-q", "アドバイザーQ", ("talent", "workstyle"), ("consultation",)),
    _expert("advisor-r", "アドバイザーR", ("technology", "data"), ("training",)),
    _expert("partner-a", "パートナー企業A", ("technology",), ("consultation",)),
    _expert("partner-b", "パートナー企業B", ("technology", "workstyle"), ("information",)),
    _expert("partner-c", "パートナー企業C", ("data",), ("training", "consultation")),
    _expert("partner-d", "パートナー企業D", ("talent",), ("training",)),
    _expert("partner-e", "パートナー企業E", ("workstyle",), ("consultation",), areas=("24202",)),
    _expert("partner-f", "パートナー企業F", ("technology", "data"), ("consultation",)),
    _expert("partner-g", "パートナー企業G", ("mindset",), ("training", "information")),
    _expert("partner-h", "パートナー企業H", ("technology",), ("information", "consultation")),
    _expert("partner-i", "パートナー企業I", ("talent", "mindset"), ("training",)),
    _expert("partner-j", "パートナー企業J", ("data", "workstyle"), ("information",)),
    _expert(
        "partner-k", "パートナー企業K", ("technology",), ("training", "consultation"), capacity=5
    ),
]


def expert_item(expert: dict[str, Any]) -> dict[str, Any]:
    """The desk-table item of one expert (plain values; keys and indexes from storage/keys.py)."""
    from chalicelib.core.roster import Expert
    from chalicelib.storage.roster import expert_item as stored_item

    return stored_item(Expert.model_validate(expert))


def seed(dynamodb: Any, table_name: str, roster: list[dict[str, Any]] = ROSTER) -> int:
    """Write every expert of `roster` (an update per expert: idempotent); returns how many."""
    from chalicelib.core.roster import Expert
    from chalicelib.storage.roster import RosterStore

    store = RosterStore(dynamodb, table_name)
    for expert in roster:
        store.put(Expert.model_validate(expert))
    return len(roster)


# The demo staff list: the local stage's STAFF_NOTIFY_TO addresses, one console admin and
# one staff member, so a newcomer signs in to /console/ through the dev mailbox.
DEMO_STAFF: tuple[dict[str, Any], ...] = (
    {
        "staff_id": "staff-a",
        "display_name": "職員A",
        "email": "staff-a@dx-desk.example.jp",
        "role": "admin",
    },
    {
        "staff_id": "staff-b",
        "display_name": "職員B",
        "email": "staff-b@dx-desk.example.jp",
        "role": "staff",
    },
)


def seed_staff(dynamodb: Any, table_name: str, now: datetime) -> int:
    """Store the demo staff list (audited as "system"); members already stored are kept."""
    from chalicelib.admin.access import SYSTEM
    from chalicelib.core import access
    from chalicelib.core.errors import AlreadyExists
    from chalicelib.core.staff import StaffMember
    from chalicelib.storage.admin import AdminStore

    store = AdminStore(dynamodb, table_name)
    for data in DEMO_STAFF:
        member = StaffMember.model_validate(data)
        entry = access.audit_entry(
            SYSTEM,
            action="staff.create",
            target_type="staff",
            target_id=member.staff_id,
            at=now,
            fields=sorted(member.model_dump()),
        )
        try:
            store.save_staff(
                member.model_dump(),
                create=True,
                audit=entry,
                audit_expires=int(now.timestamp()) + 365 * 86400,
            )
        except AlreadyExists:
            continue
    return len(DEMO_STAFF)
