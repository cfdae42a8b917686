"""Roster import from CSV: plan every row against the roster, then apply all or nothing.

A file with any row error changes nothing; a dry run changes nothing. A
real import applies each create or update through roster_admin.save_expert
(one transaction per expert with its audit record), then writes one
"roster.import" audit record with the counts. Experts missing from the file
are left as they are: deactivation is always explicit (the `active` column,
or POST /admin/experts/{id}/deactivate).

If the store fails part-way (throttling, someone editing the same expert),
the rows applied so far stay applied and audited, the summary records the
interruption, and running the same import again finishes the job: applied
rows then read as unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from chalicelib.core import access as admin
from chalicelib.core.errors import DeskError
from chalicelib.core.roster import Expert
from chalicelib.core.roster_admin import (
    RosterAdminStore,
    audit_expiry,
    changed_fields,
    save_expert,
)
from chalicelib.core.rostercsv import Parsed, RowError
from chalicelib.core.settings import Settings

log = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged"]
ACTIONS: tuple[Action, ...] = ("create", "update", "unchanged")
# Writes one audit record on its own (the summary of an import).
AuditWriter = Callable[[dict[str, Any], int], None]


class RosterImportStore(RosterAdminStore, Protocol):
    def list_all(self) -> list[Expert]: ...


@dataclass(frozen=True)
class Change:
    row: int
    expert_id: str
    action: Action
    fields: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "expert_id": self.expert_id,
            "action": self.action,
            "fields": self.fields,
        }


@dataclass(frozen=True)
class ImportResult:
    dry_run: bool
    applied: bool
    rows: int
    changes: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = Counter(change.action for change in self.changes)
        return {action: found.get(action, 0) for action in ACTIONS}


def plan(parsed: Parsed, existing: dict[str, Expert]) -> list[Change]:
    """What importing each valid row would do (changed field names only, never values)."""
    changes = []
    for row in parsed.rows:
        before = existing.get(row.expert.expert_id)
        fields = changed_fields(before, row.expert)
        action: Action = "create" if before is None else ("update" if fields else "unchanged")
        changes.append(Change(row.row, row.expert.expert_id, action, fields))
    return changes


def import_roster(
    store: RosterImportStore,
    write_audit: AuditWriter,
    actor: admin.Actor,
    parsed: Parsed,
    *,
    dry_run: bool,
    now: datetime,
    settings: Settings,
) -> ImportResult:
    """Plan the import; unless it is a dry run or has errors, apply it."""
    existing = {expert.expert_id: expert for expert in store.list_all()}
    changes = plan(parsed, existing)
    in_file = {row.expert.expert_id for row in parsed.rows}
    result = ImportResult(
        dry_run=dry_run,
        applied=False,
        rows=parsed.data_rows,
        changes=changes,
        errors=parsed.errors,
        not_in_file=sorted(set(existing) - in_file),
    )
    if dry_run or parsed.errors:
        return result

    experts = {row.row: row.expert for row in parsed.rows}
    done: Counter[str] = Counter()
    try:
        for change in changes:
            if change.action == "unchanged":
                continue
            save_expert(
                store,
                actor,
                experts[change.row],
                create=change.action == "create",
                now=now,
                settings=settings,
            )
            done[change.action] += 1
    except DeskError:
        # What was applied is audited expert by expert; record the interruption too.
        with contextlib.suppress(DeskError):
            write_audit(
                _summary(actor, now, parsed, done, complete=False), audit_expiry(settings, now)
            )
        log.warning("roster import interrupted after %d change(s)", sum(done.values()))
        raise
    write_audit(_summary(actor, now, parsed, done, complete=True), audit_expiry(settings, now))
    return ImportResult(
        dry_run=False,
        applied=True,
        rows=result.rows,
        changes=changes,
        not_in_file=result.not_in_file,
    )


def _summary(
    actor: admin.Actor, now: datetime, parsed: Parsed, done: Counter[str], *, complete: bool
) -> dict[str, Any]:
    return admin.audit_entry(
        actor,
        action="roster.import",
        target_type="roster",
        target_id="experts",
        at=now,
        detail={
            "rows": parsed.data_rows,
            "created": done.get("create", 0),
            "updated": done.get("update", 0),
            "complete": complete,
        },
    )


def summary_messages(result: ImportResult) -> tuple[str, str]:
    """What an import (or its dry run) did, in Japanese and English (the API and the console)."""
    counts = result.counts()
    numbers = (
        f"新規 {counts['create']} 件、更新 {counts['update']} 件、変更なし {counts['unchanged']} 件"
    )
    numbers_en = (
        f"{counts['create']} to create, {counts['update']} to update, "
        f"{counts['unchanged']} unchanged"
    )
    keep = "CSVにない専門家は削除も無効化もされません（無効化は個別に行います）。"
    keep_en = "Experts missing from the file are neither deleted nor deactivated."
    if result.errors:
        return (
            f"{len(result.errors)} 件の誤りがあるため、何も変更していません。各行のメッセージを確認してください。",
            f"{len(result.errors)} error(s): nothing was changed. See the message for each row.",
        )
    if result.applied:
        return f"反映しました: {numbers}。{keep}", f"Applied: {numbers_en}. {keep_en}"
    return (
        f"確認のみ（まだ変更していません）: {numbers}。{keep}",
        f"Dry run (nothing changed yet): {numbers_en}. {keep_en}",
    )
