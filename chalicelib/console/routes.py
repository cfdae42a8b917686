"""The console's routes, all on one blueprint (console/web.py): importing this registers them."""

from __future__ import annotations

from chalicelib.console import (
    audit,
    cases,
    privacy,
    reference,
    report,
    roster,
    rostercsv,
    signin,
)
from chalicelib.console.web import PAGES, bp

__all__ = [
    "PAGES",
    "audit",
    "bp",
    "cases",
    "privacy",
    "reference",
    "report",
    "roster",
    "rostercsv",
    "signin",
]
