"""Timestamps as stored: fixed-width UTC ISO-8601, so that string order is time order (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.core.receipt import JST


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def jst_display(value: str) -> str:
    """A stored timestamp as people in Japan read it: 2026年11月26日 23:00."""
    moment = parse_iso(value).astimezone(JST)
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"
