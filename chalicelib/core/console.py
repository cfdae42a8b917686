"""The console's sign-in and session rules (pure): mailed one-time links, sessions, CSRF.

- A sign-in link carries a 256-bit random secret; only its SHA-256 is stored
  (with the staff id, an expiry minutes away and, once used, the time of use).
  Opening the link shows a button; the POST from it uses the link and starts
  a session in one write, so a link signs in at most once.
- A session is a server-side record under the SHA-256 of a random id; the id
  travels in a cookie (HttpOnly, SameSite=Strict, Path=/console, Secure on
  https). It ends after CONSOLE_IDLE_MINUTES without a request, after
  CONSOLE_SESSION_HOURS in any case, at sign-out, and when its person is no
  longer an active member of the staff list.
- Every form carries the session's CSRF token (a second random value of the
  session record, compared in constant time). Forms shown before sign-in carry
  a double-submit token: a random cookie of their own, echoed in the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.core import access
from chalicelib.core.staff import StaffMember

SESSION_COOKIE = "dxd_console"
PRESIGN_COOKIE = "dxd_console_pre"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf"
# A session's last-seen time is written at most this often (one write a minute, not
# one per page), so the idle limit is exact to within this.
TOUCH_EVERY_SECONDS = 60
_SECRET_SHAPE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

SessionState = Literal["active", "idle", "expired"]


def new_secret() -> str:
    """256 random bits, URL-safe (a link's secret, a session id, a CSRF token)."""
    return secrets.token_urlsafe(32)


def well_formed(secret: str) -> bool:
    """A value new_secret() could have made (anything else is refused before any read)."""
    return 32 <= len(secret) <= 64 and set(secret) <= _SECRET_SHAPE


def digest(secret: str) -> str:
    """What the table keeps instead of a secret (a fast hash suffices for 256 random bits)."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def same(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two tokens; a missing one never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def normalized_address(address: str) -> str:
    """An address as typed (full-width, spaces, capitals) in the form compared to the list."""
    return unicodedata.normalize("NFKC", address).strip().lower()


def member_for(members: Iterable[StaffMember], address: str) -> StaffMember | None:
    """The active staff member with this address, if any (the only people who may sign in)."""
    wanted = normalized_address(address)
    for member in members:
        if member.active and member.email.strip().lower() == wanted:
            return member
    return None


def member_by_id(members: Iterable[StaffMember], staff_id: str) -> StaffMember | None:
    """The active member a session belongs to (a deactivated member's sessions stop)."""
    return next((m for m in members if m.staff_id == staff_id and m.active), None)


def address_rate_key(address: str) -> str:
    """The rate-limit key of sign-in mails for one address (listed or not: the same count)."""
    return digest("console-signin:" + normalized_address(address))


def client_rate_key(client: str) -> str:
    return digest("console-signin-client:" + client)


@dataclass(frozen=True)
class SessionRecord:
    """A stored session: whose it is, its CSRF token, when it began and was last used."""

    staff_id: str
    csrf: str
    created_at: int
    last_seen: int
    expires_at: int

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> SessionRecord:
        return cls(
            staff_id=str(item["staff_id"]),
            csrf=str(item["csrf"]),
            created_at=int(item["created_at"]),
            last_seen=int(item["last_seen"]),
            expires_at=int(item["expires_at"]),
        )


def new_session(staff_id: str, now_epoch: int, hours: int) -> SessionRecord:
    return SessionRecord(
        staff_id=staff_id,
        csrf=new_secret(),
        created_at=now_epoch,
        last_seen=now_epoch,
        expires_at=now_epoch + hours * 3600,
    )


def session_state(record: SessionRecord, now_epoch: int, idle_minutes: int) -> SessionState:
    if now_epoch >= record.expires_at:
        return "expired"
    if now_epoch - record.last_seen >= idle_minutes * 60:
        return "idle"
    return "active"


def needs_touch(record: SessionRecord, now_epoch: int) -> bool:
    return now_epoch - record.last_seen >= TOUCH_EVERY_SECONDS


def actor_of(member: StaffMember, request_id: str) -> access.Actor:
    """Who acts in the console, as the audit log names them: the person's display name, and
    `console:<staff id>` where an API call would name its token."""
    return access.Actor(
        role=member.role,
        actor=member.display_name,
        token_id=f"console:{member.staff_id}",
        request_id=request_id,
    )


def cookie_value(header: str | None, name: str) -> str | None:
    """One cookie's value from a Cookie header (the first of that name), or None."""
    if not header:
        return None
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip()
    return None


def set_cookie(name: str, value: str, *, max_age: int, secure: bool, root: str = "") -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, scoped to the console's path (under
    the stage's base path, `root`), Secure on https."""
    parts = [
        f"{name}={value}",
        f"Path={root}{COOKIE_PATH}",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def clear_cookie(name: str, *, secure: bool, root: str = "") -> str:
    return set_cookie(name, "", max_age=0, secure=secure, root=root)
