"""Categories and support types as data (pure): entries, the rules for editing them, what changed.

Each kind is an ordered list of entries {id, ja, en, active}. An id is never
renamed nor removed: cases, statistics counters and experts keep naming it
for years. An entry that is no longer offered is deactivated instead: hidden
on the form and refused for new submissions and new expert registrations,
still labelled wherever an old case or expert names it.

Until an admin edits them, the entries come from the deployment file
(version 0); every edit raises the version by one (optimistic locking).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chalicelib.core import text
from chalicelib.core.errors import FieldError

ID_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
MAX_JA = 60
MAX_EN = 120
MAX_ENTRIES = 50

Kind = Literal["categories", "support_types"]
KINDS: tuple[Kind, ...] = ("categories", "support_types")
KIND_LABELS: dict[Kind, tuple[str, str]] = {
    "categories": ("分野", "categories"),
    "support_types": ("支援の種類", "support types"),
}

TaxonomyId = Annotated[str, Field(pattern=ID_PATTERN)]


def one_line(max_length: int) -> AfterValidator:
    """A one-line label: NFC, trimmed, no line breaks, control characters or bidi
    overrides (labels reach mail subjects)."""

    def check(value: str) -> str:
        if "\n" in value or "\t" in value or "\r" in value:
            raise ValueError("a label is one line")
        try:
            cleaned = text.normalize_long(value, max_length=max_length)
        except text.TextError as exc:
            raise ValueError(exc.code) from None
        if not cleaned:
            raise ValueError("a label is required")
        return cleaned

    return AfterValidator(check)


class Entry(BaseModel):
    """One category or support type."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    id: TaxonomyId
    ja: Annotated[str, one_line(MAX_JA)]
    en: Annotated[str, one_line(MAX_EN)]
    active: bool = True


class Taxonomy(BaseModel):
    """The desk's categories and support types, with the version they were stored at."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    categories: Annotated[list[Entry], Field(max_length=MAX_ENTRIES)]
    support_types: Annotated[list[Entry], Field(max_length=MAX_ENTRIES)]
    version: Annotated[int, Field(ge=0)] = 0

    def entries(self, kind: Kind) -> list[Entry]:
        return self.categories if kind == "categories" else self.support_types

    def active_ids(self, kind: Kind) -> list[str]:
        return [entry.id for entry in self.entries(kind) if entry.active]

    def inactive_ids(self, kind: Kind) -> frozenset[str]:
        return frozenset(entry.id for entry in self.entries(kind) if not entry.active)

    def labels(self, kind: Kind) -> dict[str, tuple[str, str]]:
        """Every entry's (ja, en), inactive ones included (old cases still name them)."""
        return {entry.id: (entry.ja, entry.en) for entry in self.entries(kind)}


class LabelLike(Protocol):
    @property
    def ja(self) -> str: ...

    @property
    def en(self) -> str: ...


def default_taxonomy(
    categories: Mapping[str, LabelLike], support_types: Mapping[str, LabelLike]
) -> Taxonomy:
    """The deployment file's lists, all active, as version 0."""
    return Taxonomy(
        categories=[Entry(id=key, ja=label.ja, en=label.en) for key, label in categories.items()],
        support_types=[
            Entry(id=key, ja=label.ja, en=label.en) for key, label in support_types.items()
        ],
        version=0,
    )


def _problem(field: str, code: str, ja: str, en: str) -> FieldError:
    return FieldError(field=field, code=code, message=ja, message_en=en, loc=(field,))


def edit_problems(before: Taxonomy, after: Taxonomy) -> list[FieldError]:
    """Why `after` may not replace `before` (empty: it may).

    Ids are unique per kind and every id of `before` stays (deactivate rather
    than delete); each kind keeps at least one active entry, or the form
    could not be filled in. Messages name ids, never labels.
    """
    problems: list[FieldError] = []
    for kind in KINDS:
        ja_kind, en_kind = KIND_LABELS[kind]
        ids = [entry.id for entry in after.entries(kind)]
        duplicates = sorted({key for key in ids if ids.count(key) > 1})
        if duplicates:
            problems.append(
                _problem(
                    kind,
                    "duplicate_id",
                    f"{ja_kind}のIDが重複しています: {', '.join(duplicates)}",
                    f"Duplicate ids in {en_kind}: {', '.join(duplicates)}",
                )
            )
        removed = [entry.id for entry in before.entries(kind) if entry.id not in ids]
        if removed:
            problems.append(
                _problem(
                    kind,
                    "id_removed",
                    f"{ja_kind}のIDは削除できません（案件や専門家が使っている可能性があります）。"
                    f"使わなくなったものは active を false にしてください: {', '.join(removed)}",
                    f"Ids cannot be removed from {en_kind} (cases or experts may use them); "
                    f"set active to false instead: {', '.join(removed)}",
                )
            )
        if not after.active_ids(kind):
            problems.append(
                _problem(
                    kind,
                    "none_active",
                    f"{ja_kind}には有効なものが1つ以上必要です（フォームで選べなくなるため）。",
                    f"At least one of the {en_kind} must stay active (the form needs a choice).",
                )
            )
    return problems


def changes(before: Taxonomy, after: Taxonomy) -> tuple[list[str], dict[str, list[str]]]:
    """(the kinds that changed, "<kind>.<id>" by what happened) for the audit record.

    Ids are the desk's own codes, not personal data; labels are left out.
    """
    fields: list[str] = []
    detail: dict[str, list[str]] = {}
    for kind in KINDS:
        old = {entry.id: entry for entry in before.entries(kind)}
        new = after.entries(kind)
        found: list[tuple[str, str]] = []
        for entry in new:
            previous = old.get(entry.id)
            if previous is None:
                found.append(("added", entry.id))
                continue
            if (previous.ja, previous.en) != (entry.ja, entry.en):
                found.append(("relabelled", entry.id))
            if previous.active != entry.active:
                found.append(("deactivated" if previous.active else "reactivated", entry.id))
        kept = [entry.id for entry in new if entry.id in old]
        if kept != [key for key in old if key in kept]:
            found.append(("reordered", "*"))
        for what, key in found:
            detail.setdefault(what, []).append(f"{kind}.{key}")
        if found:
            fields.append(kind)
    return fields, detail
