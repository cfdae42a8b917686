"""Roster edits by admins: each change is validated, diffed and audited in one write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core import access as admin
from chalicelib.core.errors import AlreadyExists, FieldError, InvalidAdminInput, NotFound
from chalicelib.core.roster import Expert
from chalicelib.core.settings import Settings


class RosterAdminStore(Protocol):
    def get(self, expert_id: str) -> Expert | None: ...

    def save(
        self, expert: Expert, *, create: bool, audit: dict[str, Any], audit_expires: int
    ) -> None: ...


def audit_expiry(settings: Settings, now: datetime) -> int:
    return int((now + timedelta(days=settings.audit_retention_days)).timestamp())


def changed_fields(before: Expert | None, after: Expert) -> list[str]:
    """The profile fields that differ (names only: the audit log never holds values)."""
    new = after.model_dump()
    if before is None:
        return sorted(name for name, value in new.items() if value not in (None, [], ""))
    old = before.model_dump()
    return sorted(name for name in new if new[name] != old.get(name))


def check_references(
    expert: Expert, categories: Iterable[str], support_types: Iterable[str], areas: Iterable[str]
) -> None:
    """Categories, support types and areas must be ids the desk knows."""
    problems: list[FieldError] = []
    for name, given, known in (
        ("categories", expert.categories, set(categories)),
        ("support_types", expert.support_types, set(support_types)),
        ("areas", expert.areas, set(areas)),
    ):
        unknown = sorted(set(given) - known)
        if unknown:
            problems.append(
                FieldError(
                    field=name,
                    code="unknown_id",
                    message=f"「{name}」に登録されていないIDがあります: {', '.join(unknown)}",
                    message_en=f"Unknown ids in {name}: {', '.join(unknown)}",
                )
            )
    if problems:
        raise InvalidAdminInput(problems)


def save_expert(
    store: RosterAdminStore,
    actor: admin.Actor,
    expert: Expert,
    *,
    create: bool,
    now: datetime,
    settings: Settings,
) -> list[str]:
    """Create or update an expert; returns the changed field names (empty: nothing to do)."""
    before = store.get(expert.expert_id)
    if create and before is not None:
        raise AlreadyExists()
    if not create and before is None:
        raise NotFound("expert")
    fields = changed_fields(before, expert)
    if not fields:
        return []
    action = "expert.create" if create else "expert.update"
    if before is not None and before.active != expert.active:
        action = "expert.activate" if expert.active else "expert.deactivate"
    entry = admin.audit_entry(
        actor,
        action=action,
        target_type="expert",
        target_id=expert.expert_id,
        at=now,
        fields=fields,
    )
    store.save(expert, create=create, audit=entry, audit_expires=audit_expiry(settings, now))
    return fields


def set_active(
    store: RosterAdminStore,
    actor: admin.Actor,
    expert_id: str,
    active: bool,
    *,
    now: datetime,
    settings: Settings,
) -> Expert:
    """Deactivate (or reactivate) an expert: never a hard delete, so cases keep their reference."""
    before = store.get(expert_id)
    if before is None:
        raise NotFound("expert")
    after = before.model_copy(update={"active": active})
    save_expert(store, actor, after, create=False, now=now, settings=settings)
    return after
