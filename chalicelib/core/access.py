"""Admin access (pure): bearer tokens, roles and what each may do, and audit entries.

Mechanism: long random bearer tokens, stored only as their SHA-256 digest,
checked by a Chalice built-in authorizer (API Gateway TOKEN authorizer). Why
not IAM/SigV4: desk staff use the CLI or curl from prefecture PCs without AWS
accounts; why not Cognito: a user pool, hosted UI and its own password and
MFA policy is a lot of moving parts for a handful of people, and tokens can
be issued, listed and revoked through the same audited admin API. A token
carries 256 bits of randomness, so a fast hash is enough (a slow password
hash protects low-entropy secrets; these are not).

Token format: `dxd_<token id>_<secret>`. The token id (8 hex characters) is
not secret: it names the token in audit records and lists, so revoking one
never needs the secret.

Roles: `admin` may do everything under /admin; `staff` may work with cases,
reports and suggestions and read the roster and reference data, but cannot
change the roster, the staff list, categories or tokens, nor export or erase
personal data.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from chalicelib.core.timefmt import iso

Role = Literal["admin", "staff"]
ROLES: tuple[Role, ...] = ("admin", "staff")
TOKEN_PREFIX = "dxd_"
_TOKEN_RE = re.compile(r"^dxd_([0-9a-f]{8})_([A-Za-z0-9_-]{32,128})$")
# What the authorizer accepts at all: issued tokens, and a LOCAL_ADMIN_TOKEN
# chosen by hand for the dev stack (printable, no spaces, 16 to 256 characters).
_ACCEPTABLE_RE = re.compile(r"^[\x21-\x7e]{16,256}$")

# What a staff token may call: (method, path glob). Admin may call everything
# under /admin. The authorizer turns these into the API Gateway policy, and
# every admin view checks the role again (a mistake in one is caught by the other).
STAFF_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/admin/me"),
    ("GET", "/admin/cases"),
    ("GET", "/admin/cases/*"),
    ("POST", "/admin/cases/*"),
    ("GET", "/admin/reports/*"),
    ("GET", "/admin/experts"),
    ("GET", "/admin/experts/*"),
    ("GET", "/admin/staff"),
    ("GET", "/admin/taxonomy"),
)
# A token's record outlives its validity by a year (audit records name its id).
TOKEN_RECORD_GRACE_SECONDS = 365 * 86400
BOOTSTRAP_VALID_DAYS = 365

ADMIN_ROUTES: tuple[tuple[str, str], ...] = (("*", "/admin/*"),)


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    token_id: str
    digest: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token() -> IssuedToken:
    token_id = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return IssuedToken(token=token, token_id=token_id, digest=token_digest(token))


def token_from_header(value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None if malformed."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _ACCEPTABLE_RE.match(token):
        return None
    return token


def token_id_of(token: str) -> str:
    """The token's public id: part of an issued token, else derived from its digest."""
    match = _TOKEN_RE.match(token)
    return match.group(1) if match else token_digest(token)[:8]


def bootstrap_record(
    token: str, role: Role, actor: str, created_at: str, valid_until: int
) -> dict[str, Any]:
    """The stored record of a token given from outside (the dev stack's, the first admin's).

    Like an issued token it stops at `valid_until` and its record expires a
    year later, so the audit log's token ids stay explainable meanwhile.
    """
    return {
        "token_id": token_id_of(token),
        "role": role,
        "actor": actor,
        "created_at": created_at,
        "created_by": "bootstrap",
        "valid_until": valid_until,
        "retention_class": "access",
        "expires_at": valid_until + TOKEN_RECORD_GRACE_SECONDS,
    }


def token_usable(record: dict[str, Any] | None, now_epoch: int) -> bool:
    """A stored token that is neither revoked nor expired."""
    if not record or record.get("revoked_at"):
        return False
    if record.get("role") not in ROLES:
        return False
    expires = record.get("valid_until")
    return expires is None or int(expires) > now_epoch


def routes_for(role: str) -> tuple[tuple[str, str], ...]:
    if role == "admin":
        return ADMIN_ROUTES
    if role == "staff":
        return STAFF_ROUTES
    return ()


def allows(role: str, needed: Role) -> bool:
    """Whether `role` may do what needs `needed` (admin includes staff)."""
    return role == "admin" or (role == needed == "staff")


@dataclass(frozen=True)
class Actor:
    """Who is calling, as the authorizer established it."""

    role: str
    actor: str  # a label such as "管理者A" or "staff-a" (never a token)
    token_id: str
    request_id: str


def audit_entry(
    actor: Actor,
    *,
    action: str,
    target_type: str,
    target_id: str,
    at: datetime,
    fields: list[str] | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit record: who did what to which target, when, in which request.

    It names changed fields, never their values, so no personal data lands
    in the audit log; `detail` takes counts and ids only (callers' duty).
    """
    return {
        "audit_id": uuid.uuid4().hex,
        "at": iso(at),
        "actor": actor.actor,
        "role": actor.role,
        "token_id": actor.token_id,
        "request_id": actor.request_id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "fields": sorted(fields or []),
        **({"detail": detail} if detail else {}),
    }
