"""The desk directory: the staff list and the taxonomy, read in one Query, cached, and edited by admins.

Reading: `load_directory` turns the REFERENCE partition (one Query, see
storage/keys.py) into a `Directory`: who is told of new cases, who may act by
mail, and the deployment with the current categories and support types
applied (labels for every entry, inactive ones marked so that the form and
validation leave them out). `DirectoryCache` keeps it per process for
DIRECTORY_CACHE_SECONDS, so a warm request reads nothing; runtime.py holds the
cache. An admin edit clears this process's cache at once; other warm Lambda
containers see it when their cache runs out.

Editing: every change is validated, diffed (field names only) and written
with its audit record in one transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from chalicelib.core import access as admin
from chalicelib.core import staff as staff_rules
from chalicelib.core import taxonomy as taxonomy_rules
from chalicelib.core.deployment import Deployment, Label
from chalicelib.core.errors import AlreadyExists, InvalidAdminInput, NotFound, VersionConflict
from chalicelib.core.settings import Settings
from chalicelib.core.staff import DeskStaff, StaffMember
from chalicelib.core.taxonomy import Taxonomy
from chalicelib.core.timefmt import iso

log = logging.getLogger(__name__)


class ReferenceStore(Protocol):
    def reference(self, now_epoch: int | None = None) -> dict[str, Any]: ...


class ReferenceAdminStore(ReferenceStore, Protocol):
    def save_staff(
        self,
        member: dict[str, Any],
        *,
        create: bool,
        audit: dict[str, Any],
        audit_expires: int,
    ) -> None: ...

    def save_taxonomy(
        self,
        taxonomy: dict[str, Any],
        expected_version: int,
        *,
        audit: dict[str, Any],
        audit_expires: int,
    ) -> None: ...


@dataclass(frozen=True)
class Directory:
    """Everything the desk's reference data decides, resolved."""

    staff: DeskStaff
    members: tuple[StaffMember, ...]
    taxonomy: Taxonomy
    # The deployment with the taxonomy applied: what forms, validation and mail use.
    deployment: Deployment


def apply_taxonomy(deployment: Deployment, taxonomy: Taxonomy) -> Deployment:
    """The deployment with the taxonomy's labels (all entries) and its inactive ids."""

    def labels(kind: taxonomy_rules.Kind) -> dict[str, Label]:
        # The plain-Japanese label comes from the deployment file; once an admin
        # relabels an entry it no longer describes it, and the Japanese one shows.
        shipped: dict[str, Label] = getattr(deployment, kind)
        found = {}
        for key, (ja, en) in taxonomy.labels(kind).items():
            known = shipped.get(key)
            easy = known.easy if known is not None and known.ja == ja else ""
            found[key] = Label(ja=ja, en=en, easy=easy)
        return found

    return dataclasses.replace(
        deployment,
        categories=labels("categories"),
        support_types=labels("support_types"),
        inactive_categories=taxonomy.inactive_ids("categories"),
        inactive_support_types=taxonomy.inactive_ids("support_types"),
    )


def default_taxonomy(deployment: Deployment) -> Taxonomy:
    return taxonomy_rules.default_taxonomy(deployment.categories, deployment.support_types)


def _members(records: list[dict[str, Any]]) -> list[StaffMember]:
    members = []
    for record in records:
        try:
            members.append(StaffMember.model_validate(record))
        except ValidationError:
            # A hand-edited item: leave it out rather than stop intake; say which.
            log.error("directory: unreadable staff record %s", str(record.get("staff_id"))[:64])
    return members


def _stored_taxonomy(record: dict[str, Any] | None, deployment: Deployment) -> Taxonomy:
    if record is None:
        return default_taxonomy(deployment)
    try:
        return Taxonomy.model_validate(record)
    except ValidationError:
        log.error("directory: unreadable taxonomy record; using the deployment's lists")
        return default_taxonomy(deployment)


def load_directory(
    store: ReferenceStore, settings: Settings, deployment: Deployment, now_epoch: int
) -> Directory:
    """One Query: the stored staff (else STAFF_NOTIFY_TO) and taxonomy (else the deployment's)."""
    reference = store.reference(now_epoch)
    members = _members(list(reference.get("staff") or []))
    taxonomy = _stored_taxonomy(reference.get("taxonomy"), deployment)
    return Directory(
        staff=staff_rules.resolve(members, settings.staff_notify_to),
        members=tuple(sorted(members, key=lambda member: member.staff_id)),
        taxonomy=taxonomy,
        deployment=apply_taxonomy(deployment, taxonomy),
    )


class DirectoryCache:
    """One process's copy of the directory, read again after `ttl_seconds` (clock injectable)."""

    def __init__(
        self,
        load: Callable[[], Directory],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl_seconds
        self._clock = clock
        self._held: tuple[Directory, float] | None = None

    def get(self) -> Directory:
        now = self._clock()
        held = self._held
        if held is not None and now < held[1]:
            return held[0]
        directory = self._load()
        # One tuple assignment: a concurrent reader sees the old or the new pair.
        self._held = (directory, now + self._ttl)
        return directory

    def peek(self) -> Directory | None:
        """The copy held, if it is still fresh; never reads (the intake path, core/choices.py)."""
        held = self._held
        return held[0] if held is not None and self._clock() < held[1] else None

    def forget(self) -> None:
        self._held = None


# -- admin edits ------------------------------------------------------------------


def _audit_expiry(settings: Settings, now: datetime) -> int:
    return int((now + timedelta(days=settings.audit_retention_days)).timestamp())


def _staff_expiry(settings: Settings, now: datetime, member: StaffMember) -> int:
    # Like an expert: an active member lives REFERENCE_RETENTION_DAYS from the last
    # edit; a former one as long as the cases that name the address may.
    days = settings.reference_retention_days if member.active else settings.case_retention_days
    return int((now + timedelta(days=days)).timestamp())


def current_members(store: ReferenceStore, now: datetime) -> list[StaffMember]:
    return _members(list(store.reference(int(now.timestamp())).get("staff") or []))


def save_staff(
    store: ReferenceAdminStore,
    actor: admin.Actor,
    member: StaffMember,
    *,
    create: bool,
    now: datetime,
    settings: Settings,
) -> list[str]:
    """Create or replace a staff member; returns the changed field names (empty: nothing to do).

    Raises AlreadyExists, NotFound or InvalidAdminInput (an address used by
    another member; no active member left to receive new-case mail).
    """
    members = current_members(store, now)
    before = next((m for m in members if m.staff_id == member.staff_id), None)
    if create and before is not None:
        raise AlreadyExists()
    if not create and before is None:
        raise NotFound("staff")
    fields = staff_rules.changed_fields(before, member)
    if not fields:
        return []
    problems = staff_rules.team_problems(members, member)
    if problems:
        raise InvalidAdminInput(problems)
    action = "staff.create" if create else "staff.update"
    if before is not None and before.active != member.active:
        action = "staff.activate" if member.active else "staff.deactivate"
    entry = admin.audit_entry(
        actor,
        action=action,
        target_type="staff",
        target_id=member.staff_id,
        at=now,
        fields=fields,
    )
    record = {
        **member.model_dump(),
        "updated_at": iso(now),
        "expires_at": _staff_expiry(settings, now, member),
    }
    store.save_staff(record, create=create, audit=entry, audit_expires=_audit_expiry(settings, now))
    return fields


def deactivate_staff(
    store: ReferenceAdminStore,
    actor: admin.Actor,
    staff_id: str,
    *,
    now: datetime,
    settings: Settings,
) -> StaffMember:
    """Deactivate a member (never deleted: case timelines keep naming the address)."""
    before = next((m for m in current_members(store, now) if m.staff_id == staff_id), None)
    if before is None:
        raise NotFound("staff")
    after = before.model_copy(update={"active": False})
    save_staff(store, actor, after, create=False, now=now, settings=settings)
    return after


def current_taxonomy(store: ReferenceStore, deployment: Deployment, now: datetime) -> Taxonomy:
    """The stored taxonomy, or the deployment's lists as version 0 (read fresh, not cached)."""
    record = store.reference(int(now.timestamp())).get("taxonomy")
    return _stored_taxonomy(record, deployment)


def save_taxonomy(
    store: ReferenceAdminStore,
    actor: admin.Actor,
    proposed: Taxonomy,
    *,
    deployment: Deployment,
    now: datetime,
    settings: Settings,
) -> tuple[Taxonomy, list[str]]:
    """Replace the taxonomy if `proposed.version` is the current one; returns (stored, changed kinds).

    Raises VersionConflict (someone saved first, or an old copy was edited)
    or InvalidAdminInput (a removed or duplicate id, no active entry left).
    """
    before = current_taxonomy(store, deployment, now)
    if proposed.version != before.version:
        raise VersionConflict()
    problems = taxonomy_rules.edit_problems(before, proposed)
    if problems:
        raise InvalidAdminInput(problems)
    fields, detail = taxonomy_rules.changes(before, proposed)
    if not fields:
        return before, []
    stored = proposed.model_copy(update={"version": before.version + 1})
    entry = admin.audit_entry(
        actor,
        action="taxonomy.update",
        target_type="taxonomy",
        target_id="taxonomy",
        at=now,
        fields=fields,
        detail={**detail, "version": [str(stored.version)]},
    )
    record = {
        **proposed.model_dump(mode="json", exclude={"version"}),
        "updated_at": iso(now),
        # Renewed by every edit, like the roster; were it ever to lapse, the
        # deployment file's lists would apply again.
        "expires_at": int((now + timedelta(days=settings.reference_retention_days)).timestamp()),
    }
    store.save_taxonomy(
        record, before.version, audit=entry, audit_expires=_audit_expiry(settings, now)
    )
    return stored, fields
