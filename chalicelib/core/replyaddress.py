"""Per-case reply addresses: `case-<key id>-<receipt number>-<mac>@<reply domain>` (pure).

Staff answer a case mail with their client's Reply; the address they reply
to names the case and carries a MAC, so a message to a guessed address acts
on nothing. It is not single use (a case gets many replies) and does not
expire with the link lifetime: who may act is decided by the sender check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

_LOCAL = re.compile(r"^case-([a-z0-9]+)-(dx-\d{6}-\d{6})-([a-z2-7]{16})$")


@dataclass(frozen=True)
class ReplyTarget:
    receipt_number: str
    key_id: str


def _mac(secret: bytes, key_id: str, receipt_number: str) -> str:
    digest = hmac.new(secret, f"reply|{key_id}|{receipt_number}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:16]


def reply_address(keys: dict[str, bytes], key_id: str, receipt_number: str, domain: str) -> str:
    local = f"case-{key_id.lower()}-{receipt_number.lower()}-{_mac(keys[key_id], key_id.lower(), receipt_number)}"
    return f"{local}@{domain}"


def read_reply_address(address: str, keys: dict[str, bytes], domain: str) -> ReplyTarget | None:
    """The case an address belongs to, or None if it is not one of ours or its MAC is wrong."""
    local, _, host = address.strip().lower().rpartition("@")
    if host != domain.lower():
        return None
    # Some clients and relays add "+tag" or keep the case; only the core matters.
    match = _LOCAL.match(local.split("+", 1)[0])
    if not match:
        return None
    key_id, receipt_lower, mac = match.groups()
    receipt_number = receipt_lower.upper()
    for known_id, secret in keys.items():
        if known_id.lower() == key_id and hmac.compare_digest(
            mac, _mac(secret, key_id, receipt_number)
        ):
            return ReplyTarget(receipt_number=receipt_number, key_id=known_id)
    return None
