"""Use case: staff and experts act on a case through signed links in mail.

Purposes of the links (bound to case and recipient by the token):
- `case:<action>`: a desk staff member moves the case (the recipient must
  still be on the desk's list);
- `case:ask_expert:<expert id>`: a staff member asks that expert;
- `expert:accept:<expert id>` / `expert:decline:<expert id>`: the asked
  expert answers (the recipient must be one of the expert's addresses).

What a link does is core/acting.py's `perform`, the same code the admin API
and mail commands run; this module reads the link and who may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import actiontoken, lifecycle
from chalicelib.core.acting import (
    Act,
    ActionDone,
    Roster,
    for_expert,
    perform,
    session_record,
)
from chalicelib.core.actiontoken import EXPERT, EXPERT_ACTIONS, STAFF
from chalicelib.core.errors import CaseNotFound, LinkAlreadyUsed, SessionInputInvalid
from chalicelib.core.ports import CaseChanges, Desk
from chalicelib.core.settings import Settings
from chalicelib.core.staff import DeskStaff
from chalicelib.core.timefmt import iso


@dataclass(frozen=True)
class LinkClaim:
    claim: actiontoken.ActionClaim
    action: lifecycle.Action
    actor: str
    expert_id: str | None

    def act(self, note: str, session: dict[str, Any] | None) -> Act:
        # A link is bound to one address: it names the actor and receives their mail.
        return Act(
            self.action,
            self.actor,
            "link",
            expert_id=self.expert_id,
            address=self.actor,
            note=note,
            session=session,
        )


@dataclass(frozen=True)
class LinkView:
    """What a link would do, shown before anything changes (GET and HEAD)."""

    action: lifecycle.Action
    case: dict[str, Any]
    actor: str
    used: dict[str, Any] | None  # set when the link acted before
    refusal: lifecycle.IllegalTransition | None  # set when the action no longer applies
    expert_name: str = ""


def _refused() -> actiontoken.TokenRefused:
    return actiontoken.TokenRefused(actiontoken.TokenProblem.WRONG_PURPOSE)


def _read_link(
    token: str, settings: Settings, now: datetime, roster: Roster, staff: DeskStaff
) -> LinkClaim:
    """The claim, its action and who may use it; raises TokenRefused."""
    _, keys = settings.link_keys()
    claim = actiontoken.verify(token, keys, now=int(now.timestamp()))
    secret = keys[claim.key_id]
    audience, _, rest = claim.purpose.partition(":")
    name, _, expert_id = rest.partition(":")
    expert_id = expert_id.split(":", 1)[0]  # a session link adds its serial
    if audience == EXPERT:
        action = EXPERT_ACTIONS.get(name)
        expert = roster.get(expert_id) if expert_id else None
        if action is None or expert is None:
            raise _refused()
        # Only the asked expert answers: the recipient is one of its addresses.
        for address in expert.contact_emails:
            if actiontoken.recipient_id(address, secret) == claim.recipient:
                return LinkClaim(claim, action, address.lower(), expert_id)
        raise _refused()
    if audience != STAFF:
        raise _refused()
    try:
        action = lifecycle.Action(name)
    except ValueError:
        raise _refused() from None
    if action in EXPERT_ACTIONS.values():
        raise _refused()  # only an expert's own link answers for the expert
    if (action is lifecycle.Action.ASK_EXPERT) != bool(expert_id):
        raise _refused()
    # Only registered staff act: the recipient must still be on the list, allowed to act by mail.
    for address in staff.act_by_email:
        if actiontoken.recipient_id(address, secret) == claim.recipient:
            return LinkClaim(claim, action, address, expert_id or None)
    raise _refused()


def describe_link(
    token: str,
    *,
    store: CaseChanges,
    roster: Roster,
    desk: Desk,
) -> LinkView:
    """Everything the confirmation page shows; changes nothing."""
    link = _read_link(token, desk.settings, desk.now, roster, desk.staff)
    case = store.get_case(link.claim.receipt_number)
    if case is None:
        raise CaseNotFound()
    used = store.link_use(link.claim.unique_id)
    refusal = None
    if used is None:
        try:
            lifecycle.apply_to_case(link.action, case)
        except lifecycle.IllegalTransition as exc:
            refusal = exc
    expert = roster.get(link.expert_id) if link.expert_id else None
    shown = case if link.action not in EXPERT_ACTIONS.values() else for_expert(case)
    return LinkView(
        action=link.action,
        case=shown,
        actor=link.actor,
        used=used,
        refusal=refusal,
        expert_name=expert.display_name if expert else "",
    )


def act_by_link(
    token: str,
    *,
    note: str,
    form: dict[str, str] | None = None,
    store: CaseChanges,
    roster: Roster,
    desk: Desk,
) -> ActionDone:
    """Do what the link says, once. Raises TokenRefused, CaseNotFound, IllegalTransition,
    LinkAlreadyUsed (with what the first use did) or VersionConflict (someone else acted)."""
    settings, now = desk.settings, desk.now
    link = _read_link(token, settings, now, roster, desk.staff)
    case = store.get_case(link.claim.receipt_number)
    if case is None:
        raise CaseNotFound()
    used = store.link_use(link.claim.unique_id)
    if used is not None:
        raise LinkAlreadyUsed(used)
    # Refused before the session form is read: a closed case says so, not "bad date".
    lifecycle.apply_to_case(link.action, case)
    session = None
    if link.action is lifecycle.Action.RECORD_SESSION:
        done_sessions = len(case.get("sessions", []))
        if done_sessions >= settings.max_sessions:
            raise SessionInputInvalid(
                f"この案件の相談は{settings.max_sessions}回までで、すでに記録されています。"
            )
        # The version condition of the write keeps two records from both taking the last place.
        session = session_record(form or {}, done_sessions + 1, now)
    return perform(
        link.act(note, session),
        case,
        store=store,
        roster=roster,
        desk=desk,
        link_use={
            "unique_id": link.claim.unique_id,
            "action": link.action.value,
            "actor": link.actor,
            "at": iso(now),
            "expires_at": link.claim.expires_at + 86_400,
        },
    )
