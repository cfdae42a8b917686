"""Signed action links in mail: bound to purpose, case and recipient, expiring, single use (pure).

A token is `a1.<key id>.<payload>.<mac>`: the payload is base64url JSON
`{"p": purpose, "c": receipt number, "r": recipient id, "e": expiry (epoch s),
"u": unique id}`, the MAC an HMAC-SHA256 over `a1.<key id>.<payload>`.
Single use is the store's job: the unique id is written with the change
it made, in one transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.core import lifecycle
from chalicelib.core.settings import Settings


class TokenProblem(StrEnum):
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    WRONG_PURPOSE = "wrong_purpose"


class TokenRefused(ValueError):
    def __init__(self, problem: TokenProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class ActionClaim:
    key_id: str
    purpose: str
    receipt_number: str
    recipient: str
    expires_at: int
    unique_id: str


def recipient_id(address: str, secret: bytes) -> str:
    """A stable, non-reversible id for a mail address (links never carry the address)."""
    digest = hmac.new(secret, address.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:20]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, message: str) -> str:
    return _b64(hmac.new(secret, message.encode("ascii"), hashlib.sha256).digest())


def sign(
    keys: dict[str, bytes],
    key_id: str,
    *,
    purpose: str,
    receipt_number: str,
    recipient: str,
    expires_at: int,
    unique_id: str | None = None,
) -> str:
    payload = {
        "p": purpose,
        "c": receipt_number,
        "r": recipient,
        "e": expires_at,
        "u": unique_id or secrets.token_urlsafe(12),
    }
    body = f"a1.{key_id}.{_b64(json.dumps(payload, separators=(',', ':')).encode('utf-8'))}"
    return f"{body}.{_mac(keys[key_id], body)}"


def verify(
    token: str, keys: dict[str, bytes], *, now: int, purpose: str | None = None
) -> ActionClaim:
    """The claim a valid token makes; raises TokenRefused naming the problem."""
    parts = token.split(".")
    # Signed tokens are ASCII; anything else would fail in the MAC, not verify.
    if len(parts) != 4 or parts[0] != "a1" or not token.isascii():
        raise TokenRefused(TokenProblem.MALFORMED)
    secret = keys.get(parts[1])
    if secret is None or not hmac.compare_digest(parts[3], _mac(secret, ".".join(parts[:3]))):
        raise TokenRefused(TokenProblem.BAD_SIGNATURE)
    try:
        data = json.loads(_unb64(parts[2]))
        claim = ActionClaim(
            key_id=parts[1],
            purpose=str(data["p"]),
            receipt_number=str(data["c"]),
            recipient=str(data["r"]),
            expires_at=int(data["e"]),
            unique_id=str(data["u"]),
        )
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error):
        raise TokenRefused(TokenProblem.MALFORMED) from None
    if purpose is not None and claim.purpose != purpose:
        raise TokenRefused(TokenProblem.WRONG_PURPOSE)
    if claim.expires_at < now:
        raise TokenRefused(TokenProblem.EXPIRED)
    return claim


STAFF = "case"
EXPERT = "expert"
EXPERT_ACTIONS = {
    "accept": lifecycle.Action.EXPERT_ACCEPTED,
    "decline": lifecycle.Action.EXPERT_DECLINED,
    "session": lifecycle.Action.RECORD_SESSION,
}


def _purpose(action: lifecycle.Action, expert_id: str | None, serial: int | None = None) -> str:
    for verb, expert_action in EXPERT_ACTIONS.items():
        if action is expert_action:
            # A session link names which session it records (one link each).
            suffix = f":{serial}" if serial else ""
            return f"{EXPERT}:{verb}:{expert_id}{suffix}"
    if action is lifecycle.Action.ASK_EXPERT:
        return f"{STAFF}:{action.value}:{expert_id}"
    return f"{STAFF}:{action.value}"


def link_for(
    settings: Settings,
    *,
    action: lifecycle.Action,
    receipt_number: str,
    recipient: str,
    now: datetime,
    expert_id: str | None = None,
    serial: int | None = None,
) -> str:
    """An absolute, signed, expiring link that lets `recipient` do `action` on one case."""
    key_id, keys = settings.link_keys()
    token = sign(
        keys,
        key_id,
        purpose=_purpose(action, expert_id, serial),
        receipt_number=receipt_number,
        recipient=recipient_id(recipient, keys[key_id]),
        expires_at=int((now + timedelta(days=settings.action_link_ttl_days)).timestamp()),
    )
    return f"{settings.base_url()}/actions/{token}"
