"""Deployment data: what differs between prefectures (lists and labels shown on the form and in mail) (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import ConfigError


@dataclass(frozen=True)
class Label:
    ja: str
    en: str
    # やさしい日本語, readings marked [漢字|かんじ]; empty: show the Japanese label.
    easy: str = ""

    def get(self, lang: str) -> str:
        if lang == "en":
            return self.en
        if lang == "easy":
            return self.easy or self.ja
        return self.ja


@dataclass(frozen=True)
class Deployment:
    """Data that differs between prefectures: lists shown on the form and used in mail."""

    municipalities: dict[str, Label]
    categories: dict[str, Label]
    requester_types: dict[str, Label]
    support_types: dict[str, Label]
    preferred_formats: dict[str, Label]
    privacy_notice_version: str
    expected_contact_business_days: int
    # Entries an admin deactivated (core/directory.py): still labelled for old
    # cases and experts, no longer offered on the form or accepted from requesters.
    inactive_categories: frozenset[str] = frozenset()
    inactive_support_types: frozenset[str] = frozenset()

    def active_categories(self) -> dict[str, Label]:
        return {k: v for k, v in self.categories.items() if k not in self.inactive_categories}

    def active_support_types(self) -> dict[str, Label]:
        return {k: v for k, v in self.support_types.items() if k not in self.inactive_support_types}


def _labels(data: dict[str, Any], key: str) -> dict[str, Label]:
    try:
        return {
            item["id"]: Label(ja=item["ja"], en=item["en"], easy=str(item.get("easy", "")))
            for item in data[key]
        }
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"deployment file: {key} needs a list of {{id, ja, en}}") from exc


def deployment_from(data: dict[str, Any]) -> Deployment:
    """The deployment a parsed deployment file describes; ConfigError names what is missing."""
    try:
        return Deployment(
            municipalities=_labels(data, "municipalities"),
            categories=_labels(data, "categories"),
            requester_types=_labels(data, "requester_types"),
            support_types=_labels(data, "support_types"),
            preferred_formats=_labels(data, "preferred_formats"),
            privacy_notice_version=str(data["privacy_notice_version"]),
            expected_contact_business_days=int(data.get("expected_contact_business_days", 3)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError("deployment file: privacy_notice_version is missing") from exc
