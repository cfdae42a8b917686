"""Use case: a staff member acts on a case through a signed link in a mail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain import actiontoken, lifecycle
from chalicelib.domain.case import Status
from chalicelib.domain.timefmt import iso
from chalicelib.errors import CaseNotFound, LinkAlreadyUsed
from chalicelib.services.ports import CaseChanges

ACTION_PURPOSE_PREFIX = "case:"
MAX_NOTE = 2000


@dataclass(frozen=True)
class LinkView:
    """What a link would do, shown before anything changes (GET and HEAD)."""

    action: lifecycle.Action
    case: dict[str, Any]
    actor: str
    used: dict[str, Any] | None  # set when the link acted before
    refusal: lifecycle.IllegalTransition | None  # set when the action no longer applies


@dataclass(frozen=True)
class ActionDone:
    action: lifecycle.Action
    case: dict[str, Any]
    actor: str
    changed: bool


def link_for(
    settings: Settings,
    *,
    action: lifecycle.Action,
    receipt_number: str,
    recipient: str,
    now: datetime,
) -> str:
    """An absolute, signed, expiring link that lets `recipient` do `action` on one case."""
    key_id, keys = settings.link_keys()
    token = actiontoken.sign(
        keys,
        key_id,
        purpose=ACTION_PURPOSE_PREFIX + action.value,
        receipt_number=receipt_number,
        recipient=actiontoken.recipient_id(recipient, keys[key_id]),
        expires_at=int((now + timedelta(days=settings.action_link_ttl_days)).timestamp()),
    )
    return f"{settings.base_url()}/actions/{token}"


def _read_link(
    token: str, settings: Settings, now: datetime
) -> tuple[actiontoken.ActionClaim, lifecycle.Action, str]:
    """The claim, its action and the staff address it was issued to; raises TokenRefused."""
    _, keys = settings.link_keys()
    claim = actiontoken.verify(token, keys, now=int(now.timestamp()))
    if not claim.purpose.startswith(ACTION_PURPOSE_PREFIX):
        raise actiontoken.TokenRefused(actiontoken.TokenProblem.WRONG_PURPOSE)
    try:
        action = lifecycle.Action(claim.purpose.removeprefix(ACTION_PURPOSE_PREFIX))
    except ValueError:
        raise actiontoken.TokenRefused(actiontoken.TokenProblem.WRONG_PURPOSE) from None
    secret = keys[claim.key_id]
    # Only registered staff act: the recipient must still be on the list.
    for address in settings.staff_notify_to:
        if actiontoken.recipient_id(address, secret) == claim.recipient:
            return claim, action, address
    raise actiontoken.TokenRefused(actiontoken.TokenProblem.WRONG_PURPOSE)


def describe_link(token: str, *, store: CaseChanges, settings: Settings, now: datetime) -> LinkView:
    """Everything the confirmation page shows; changes nothing."""
    claim, action, actor = _read_link(token, settings, now)
    case = store.get_case(claim.receipt_number)
    if case is None:
        raise CaseNotFound()
    used = store.link_use(claim.unique_id)
    refusal = None
    if used is None:
        try:
            lifecycle.apply(action, Status(case["status"]))
        except lifecycle.IllegalTransition as exc:
            refusal = exc
    return LinkView(action=action, case=case, actor=actor, used=used, refusal=refusal)


def act_by_link(
    token: str, *, note: str, store: CaseChanges, settings: Settings, now: datetime
) -> ActionDone:
    """Do what the link says, once. Raises TokenRefused, CaseNotFound, IllegalTransition,
    LinkAlreadyUsed (with what the first use did) or VersionConflict (someone else acted)."""
    claim, action, actor = _read_link(token, settings, now)
    case = store.get_case(claim.receipt_number)
    if case is None:
        raise CaseNotFound()
    used = store.link_use(claim.unique_id)
    if used is not None:
        raise LinkAlreadyUsed(used)
    status = Status(case["status"])
    outcome = lifecycle.apply(action, status)
    changes: dict[str, Any] = {}
    if outcome.changed:
        changes["status"] = outcome.status.value
    if action is lifecycle.Action.TAKE:
        changes["owner"] = actor
    at = iso(now)
    event = {
        "at": at,
        "event_id": uuid.uuid4().hex[:12],
        "type": "action",
        "action": action.value,
        "actor": actor,
        "channel": "link",
        "from_status": status.value,
        "to_status": outcome.status.value,
    }
    note = note.strip()[:MAX_NOTE]
    if note:
        event["note"] = note
    written = store.apply_change(
        case,
        changes=changes,
        event=event,
        messages=[],
        link_use={
            "unique_id": claim.unique_id,
            "action": action.value,
            "actor": actor,
            "at": at,
            "expires_at": claim.expires_at + 86_400,
        },
        mail_expires_at=int((now + timedelta(days=settings.mail_retention_days)).timestamp()),
    )
    return ActionDone(
        action=action, case=written, actor=actor, changed=outcome.changed or bool(changes)
    )
