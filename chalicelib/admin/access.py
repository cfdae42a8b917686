"""Admin access outside the API: the first admin token, and the dev stack's local token."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core import access as admin
from chalicelib.core.timefmt import iso

SYSTEM = admin.Actor(role="admin", actor="system", token_id="-", request_id="bootstrap")


class TokenStore(Protocol):
    def put_token(
        self, digest: str, record: dict[str, Any], audit: dict[str, Any], audit_expires: int
    ) -> None: ...


def bootstrap_token(
    store: TokenStore,
    token: str,
    *,
    role: admin.Role,
    actor: str,
    now: datetime,
    audit_expires: int,
    valid_days: int = admin.BOOTSTRAP_VALID_DAYS,
) -> str:
    """Store a token given from outside (as its digest), audited as done by "system"; its id.

    It works for `valid_days` (a year by default): the first admin issues
    everyday tokens with it and lets it lapse, or revokes it."""
    valid_until = int((now + timedelta(days=valid_days)).timestamp())
    record = admin.bootstrap_record(token, role, actor, iso(now), valid_until)
    entry = admin.audit_entry(
        SYSTEM,
        action="token.bootstrap",
        target_type="token",
        target_id=record["token_id"],
        at=now,
        fields=["role", "actor", "valid_until"],
    )
    store.put_token(admin.token_digest(token), record, entry, audit_expires)
    return str(record["token_id"])
