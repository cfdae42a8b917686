"""The requester's signed links (pure): their own page, and one token per action shown on it.

- The page token (`requester:page`) is reusable for viewing: it is signed for one case
  and the requester's address (core/actiontoken.py `recipient_id`, never the address
  itself) and is valid until the case's retention ends (its `expires_at`). Opening it
  changes nothing, so it may be sent again and again (the automatic reply, the lookup).
- An action token (`requester:act:<action>`) is put into each form the page renders. It
  is bound to the same case and address, expires after ACTION_TOKEN_SECONDS, and its
  unique id is claimed in the same transaction as the change it makes (the store's
  `link_use`): pressing a button twice, or replaying the POST, does the thing once.

A requester token never works on a staff link (/actions: its audience is not `case`
or `expert`), nor a staff token here (the purpose differs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import actiontoken
from chalicelib.core.actiontoken import ActionClaim, TokenProblem, TokenRefused
from chalicelib.core.settings import Settings

AUDIENCE = "requester"
PAGE = f"{AUDIENCE}:page"
ADD = "add"
WITHDRAW = "withdraw"
ACTIONS = (ADD, WITHDRAW)
# An action token lives as long as a person may reasonably keep the page open.
ACTION_TOKEN_SECONDS = 24 * 3600
# The prefix of the single-use record of an action token (keys.token_use_key).
USE_PREFIX = "requester-"


def action_purpose(action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown requester action {action!r}")
    return f"{AUDIENCE}:act:{action}"


def page_token(settings: Settings, *, receipt_number: str, email: str, expires_at: int) -> str:
    """A reusable, view-only token for the case's page, valid until `expires_at` (epoch s)."""
    key_id, keys = settings.link_keys()
    return actiontoken.sign(
        keys,
        key_id,
        purpose=PAGE,
        receipt_number=receipt_number,
        recipient=actiontoken.recipient_id(email, keys[key_id]),
        expires_at=expires_at,
    )


def page_link(settings: Settings, *, receipt_number: str, email: str, expires_at: int) -> str:
    """The absolute address of the requester's page (`/my/<token>`)."""
    token = page_token(settings, receipt_number=receipt_number, email=email, expires_at=expires_at)
    return f"{settings.base_url()}/my/{token}"


def page_link_for_case(settings: Settings, case: Mapping[str, Any]) -> str:
    """The page link of a stored case (its receipt number, address and retention end)."""
    return page_link(
        settings,
        receipt_number=str(case["receipt_number"]),
        email=str(case["email"]),
        expires_at=int(case["expires_at"]),
    )


def action_token(
    settings: Settings, *, receipt_number: str, email: str, action: str, now: datetime
) -> str:
    """A single-use token for one action from the page, rendered into the action's form."""
    key_id, keys = settings.link_keys()
    return actiontoken.sign(
        keys,
        key_id,
        purpose=action_purpose(action),
        receipt_number=receipt_number,
        recipient=actiontoken.recipient_id(email, keys[key_id]),
        expires_at=int(now.timestamp()) + ACTION_TOKEN_SECONDS,
    )


@dataclass(frozen=True)
class PageClaim:
    claim: ActionClaim
    secret: bytes

    @property
    def receipt_number(self) -> str:
        return self.claim.receipt_number

    def is_for(self, email: object) -> bool:
        """Whether the case's address is the one the link was signed for (an erased case
        has no address: its links open nothing any more)."""
        if not isinstance(email, str) or not email:
            return False
        return actiontoken.recipient_id(email, self.secret) == self.claim.recipient


def read_page_token(token: str, settings: Settings, now: datetime) -> PageClaim:
    """The page claim of a valid page token; raises TokenRefused naming the problem."""
    _, keys = settings.link_keys()
    claim = actiontoken.verify(token, keys, now=int(now.timestamp()), purpose=PAGE)
    return PageClaim(claim, keys[claim.key_id])


def read_action_token(
    token: str, settings: Settings, now: datetime, *, page: PageClaim, action: str
) -> ActionClaim:
    """The claim of an action token for `action`, bound to the page's case and address."""
    _, keys = settings.link_keys()
    claim = actiontoken.verify(
        token, keys, now=int(now.timestamp()), purpose=action_purpose(action)
    )
    if claim.receipt_number != page.receipt_number or claim.recipient != page.claim.recipient:
        raise TokenRefused(TokenProblem.WRONG_PURPOSE)
    return claim


def use_id(claim: ActionClaim) -> str:
    """The id the single-use record of an action token is stored under."""
    return f"{USE_PREFIX}{claim.unique_id}"
