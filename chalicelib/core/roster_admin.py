"""Roster edits by admins: each change is validated, diffed and audited in one write.

Shared by the admin API (admin/) and the console (console/), so both apply
the same rules: the input model, the list filters, the known ids, the save.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core import access as admin
from chalicelib.core.errors import AlreadyExists, FieldError, InvalidAdminInput, NotFound
from chalicelib.core.roster import Expert, ExpertKind
from chalicelib.core.settings import Settings
from chalicelib.core.taxonomy import ID_PATTERN as TAXONOMY_ID_PATTERN

if TYPE_CHECKING:
    from chalicelib.core.directory import Directory

ExpertId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class ExpertIn(Expert):
    """An expert as an admin sends it (unknown fields refused; the roster's shape otherwise)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    expert_id: ExpertId


class ExpertFilters(BaseModel):
    """The roster list's filters (the API's query, the console's filter form)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: ExpertKind | None = None
    category: Annotated[str | None, Field(pattern=TAXONOMY_ID_PATTERN)] = None
    support_type: Annotated[str | None, Field(pattern=TAXONOMY_ID_PATTERN)] = None
    # A municipality id of the deployment (e.g. 24201, or "outside").
    area: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = None
    active: Literal["true", "false", "all"] = "all"


def matches(expert: Expert, filters: ExpertFilters) -> bool:
    if filters.kind and expert.kind != filters.kind:
        return False
    if filters.category and filters.category not in expert.categories:
        return False
    if filters.support_type and filters.support_type not in expert.support_types:
        return False
    if filters.area and expert.areas and filters.area not in expert.areas:
        return False
    return filters.active == "all" or expert.active == (filters.active == "true")


def known_ids(directory: Directory) -> tuple[list[str], list[str], list[str]]:
    """The ids an expert may name: the current taxonomy's active categories and support
    types (a deactivated one is given to no expert any more: stored profiles keep it until
    an admin next saves them, which then has to leave it out), and the municipalities."""
    return (
        directory.taxonomy.active_ids("categories"),
        directory.taxonomy.active_ids("support_types"),
        list(directory.deployment.municipalities),
    )


def validated(expert: Expert, directory: Directory) -> Expert:
    """The expert as stored, once its categories, support types and areas are known ids."""
    check_references(expert, *known_ids(directory))
    return Expert.model_validate(expert.model_dump())


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
