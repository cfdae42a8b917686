"""The intake write's own check of the chosen category and support types against the
stored taxonomy (pure): what lets a submission validate them without reading first."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# The shape of every taxonomy id (core/taxonomy.py ID_PATTERN, which admins' edits obey):
# anything else can be refused before the write. Kept here so that the intake path does
# not import the taxonomy's models.
_ID = re.compile(r"[a-z][a-z0-9_]{1,31}")


def well_formed(value: str) -> bool:
    return _ID.fullmatch(value) is not None


@dataclass(frozen=True)
class ChoiceCheck:
    """A condition the intake transaction puts on the stored taxonomy item (storage/cases.py).

    By default: `category` and every one of `support_types` are active in the stored
    taxonomy, or, when none is stored, `deployment_allows` them (the deployment file's
    lists apply then, and the caller checked them). With `version` (after a fresh read
    validated the ids): the taxonomy is still the one read, at that version (0: none stored).
    """

    category: str
    support_types: tuple[str, ...]
    deployment_allows: bool
    version: int | None = None

    @classmethod
    def of(
        cls,
        category: str,
        support_types: Iterable[str],
        *,
        active_categories: Iterable[str],
        active_support_types: Iterable[str],
    ) -> ChoiceCheck:
        """The default check, for ids the deployment's own active lists may or may not hold."""
        kinds = set(support_types)
        allows = category in set(active_categories) and kinds <= set(active_support_types)
        return cls(category, tuple(dict.fromkeys(support_types)), allows)

    def at_version(self, version: int) -> ChoiceCheck:
        return ChoiceCheck(self.category, self.support_types, self.deployment_allows, version)
