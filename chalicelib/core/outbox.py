"""The outbox's vocabulary: a claim on a message (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Claim:
    """A message one sender holds the right to send until its lease runs out."""

    message: dict[str, Any]
    lease_id: str
