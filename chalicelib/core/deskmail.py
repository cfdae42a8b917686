"""Pseudo receipt numbers of mail about no single case (digest, summary): the thread root (pure).

Kept apart from scheduled/mail.py so that the key design can recognise them
without importing the holiday calendar into the API's cold start.
"""

from __future__ import annotations

# Real receipt numbers start "DX-" (core/receipt.py); these never collide.
DESK_RECEIPT_PREFIX = "DESK-"


def desk_receipt_number(kind: str, period: str) -> str:
    """E.g. DESK-DIGEST-2026-11-26: one per job and period, so each run is its own thread."""
    return f"{DESK_RECEIPT_PREFIX}{kind.upper()}-{period}"


def is_desk_receipt(receipt_number: str) -> bool:
    return receipt_number.startswith(DESK_RECEIPT_PREFIX)
