"""The desk's staff list (pure): who is told of new cases, who may act by mail, the fallback.

A staff member is stored data (admins edit it through /admin/staff). Until
the first member is stored, the desk is the STAFF_NOTIFY_TO list: every
address there is told of new cases and may act by reply and by link
(bootstrap, and deployments that predate the stored list).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core.errors import FieldError

STAFF_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# The stored address was validated (and normalised) by the admin API; this only
# guards the shape of what is read back.
_EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+$"

Source = Literal["stored", "environment"]
# What a member may do in the console (/console/): core/access.py's roles.
StaffRole = Literal["admin", "staff"]


class StaffMember(BaseModel):
    """One desk staff member, as stored under REFERENCE / STAFF#<staff_id>."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    staff_id: Annotated[str, Field(pattern=STAFF_ID_PATTERN)]
    # A role label such as "職員A": what mail and lists show instead of a name.
    display_name: Annotated[str, Field(min_length=1, max_length=64)]
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=_EMAIL_SHAPE)]
    # Receives the new-case notification and the scheduled mail (digest, reminders).
    notify: bool = True
    # May drive cases by replying to case mail and through the links in it.
    may_act_by_email: bool = True
    active: bool = True
    # The console's role for this person (signed in by mail): admins edit, staff read.
    role: StaffRole = "staff"


def _unique(addresses: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for address in addresses:
        seen.setdefault(address.strip().lower(), address.strip())
    return tuple(seen.values())


@dataclass(frozen=True)
class DeskStaff:
    """Who the desk is, resolved: the addresses told of new cases, and those that may act by mail."""

    notify_to: tuple[str, ...]
    act_by_email: tuple[str, ...]
    source: Source

    def may_act(self, address: str) -> bool:
        wanted = address.strip().lower()
        return any(known.lower() == wanted for known in self.act_by_email)

    @classmethod
    def from_addresses(cls, addresses: Sequence[str]) -> DeskStaff:
        """The fallback desk: every configured address is told and may act."""
        unique = _unique(addresses)
        return cls(notify_to=unique, act_by_email=unique, source="environment")


def resolve(members: Sequence[StaffMember], fallback: Sequence[str]) -> DeskStaff:
    """The stored staff list when there is one (inactive members count as "stored"), else the fallback."""
    if not members:
        return DeskStaff.from_addresses(fallback)
    ordered = sorted(members, key=lambda member: member.staff_id)
    active = [member for member in ordered if member.active]
    return DeskStaff(
        notify_to=_unique(member.email for member in active if member.notify),
        act_by_email=_unique(member.email for member in active if member.may_act_by_email),
        source="stored",
    )


def changed_fields(before: StaffMember | None, after: StaffMember) -> list[str]:
    """Field names that differ (names only: the audit log never holds an address)."""
    new = after.model_dump()
    if before is None:
        return sorted(new)
    old = before.model_dump()
    return sorted(name for name in new if new[name] != old.get(name))


def team_problems(members: Sequence[StaffMember], changed: StaffMember) -> list[FieldError]:
    """What is wrong with the staff list after `changed` is saved (empty: nothing).

    An address belongs to one member (two would get every mail twice), and
    at least one active member keeps receiving new-case mail, so that no
    consultation arrives unnoticed.
    """
    after = [member for member in members if member.staff_id != changed.staff_id] + [changed]
    problems: list[FieldError] = []
    address = changed.email.lower()
    if any(m.email.lower() == address for m in after if m.staff_id != changed.staff_id):
        problems.append(
            FieldError(
                field="email",
                code="email_taken",
                message="このメールアドレスは別の職員に登録されています。",
                message_en="This address belongs to another staff member.",
                loc=("email",),
            )
        )
    if not any(member.active and member.notify for member in after):
        problems.append(
            FieldError(
                field="notify",
                code="nobody_notified",
                message="新しい相談の通知を受け取る有効な職員が1人以上必要です。"
                "先に別の職員を追加するか、通知を受け取る設定にしてください。",
                message_en="At least one active staff member must receive new-case mail; "
                "add or enable another one first.",
                loc=("notify",),
            )
        )
    return problems
