"""Signed form tokens: the anti-forgery and time-trap token of the rendered form (pure).

A token is `v1.<key id>.<rendered at, epoch seconds>.<nonce>.<mac>`, the MAC
an HMAC-SHA256 over everything before it. The key id lets keys rotate: a
token signed with the previous key still verifies while that key is listed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from chalicelib.core.settings import Settings


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no token at all
    INVALID = "invalid"  # malformed, unknown key or bad signature
    TOO_FAST = "too_fast"  # sent sooner after rendering than a person can fill the form
    EXPIRED = "expired"  # rendered too long ago; the form is shown again, nothing lost


@dataclass(frozen=True)
class FormCheck:
    verdict: Verdict
    age_seconds: int = 0


def _mac(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(keys: dict[str, bytes], key_id: str, rendered_at: int, nonce: str | None = None) -> str:
    body = f"v1.{key_id}.{rendered_at}.{nonce or secrets.token_urlsafe(12)}"
    return f"{body}.{_mac(keys[key_id], body)}"


def verify(
    token: str | None,
    keys: dict[str, bytes],
    *,
    now: int,
    min_seconds: int,
    max_seconds: int,
) -> FormCheck:
    if not token:
        return FormCheck(Verdict.MISSING)
    if not token.isascii():
        # Signed tokens are ASCII; anything else would fail in the MAC, not verify.
        return FormCheck(Verdict.INVALID)
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != "v1" or not parts[2].isdigit():
        return FormCheck(Verdict.INVALID)
    _, key_id, rendered_at, _nonce, mac = parts
    secret = keys.get(key_id)
    if secret is None or not hmac.compare_digest(mac, _mac(secret, ".".join(parts[:4]))):
        return FormCheck(Verdict.INVALID)
    age = now - int(rendered_at)
    if age < min_seconds:
        return FormCheck(Verdict.TOO_FAST, age)
    if age > max_seconds:
        return FormCheck(Verdict.EXPIRED, age)
    return FormCheck(Verdict.OK, age)


def honeypot_filled(value: object) -> bool:
    """Whether the hidden "leave empty" field carries anything.

    Any value in any shape counts (a list, a number, an object): only a
    missing field or blank text is empty. A filled honeypot never discards
    the post: a browser's autofill can fill it for a person, so the case is
    kept as suspected spam for staff to release or discard.
    """
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return True


def check(token: str | None, settings: Settings, now: datetime) -> FormCheck:
    """Verdict on the form's render token at `now`, with the deployment's keys and limits."""
    _, keys = settings.form_keys()
    return verify(
        token,
        keys,
        now=int(now.timestamp()),
        min_seconds=settings.form_min_seconds,
        max_seconds=settings.form_max_age_seconds,
    )
