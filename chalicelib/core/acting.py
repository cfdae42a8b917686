"""Acting on a case: the one decision every channel takes, and its write.

`decide(case, act)` is the whole rule book for one act on one case, whoever
acts and however it came (a signed link, the admin API, a mail command, the
requester's own page): the changes, the timeline event, the mail it causes and
the expert's load. It reads the roster and nothing else. `perform` writes a
decision (with the link's use, the admin audit record) in one transaction;
mail commands add their answer and the SES message record to the same write.
`rank_experts` is the one ranking behind every suggestion.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from chalicelib.core import access, lifecycle
from chalicelib.core.case import Case, OutgoingMessage, Status, staff_intake_messages
from chalicelib.core.deployment import Deployment
from chalicelib.core.errors import SessionInputInvalid
from chalicelib.core.ports import CaseChanges, Desk
from chalicelib.core.roster import Expert, MatchResult, suggest
from chalicelib.core.settings import Settings
from chalicelib.core.staff import DeskStaff
from chalicelib.core.survey import closing_messages
from chalicelib.core.timefmt import iso

SESSION_FORMATS = {"online": "オンライン", "visit": "訪問・来所", "phone": "電話"}
MAX_REPORT = 2000
MAX_NOTE = 2000
SUGGESTIONS = 5


# What an expert sees of a case before accepting: the problem, not the person.
EXPERT_VISIBLE = (
    "receipt_number",
    "requester_type",
    "municipality",
    "category",
    "support_types",
    "message",
    "preferred_format",
    "created_at",
)


class Roster(Protocol):
    def get(self, expert_id: str) -> Expert | None: ...
    def list_active(self) -> list[Expert]: ...
    def load_of(self, expert_ids: list[str]) -> dict[str, int]: ...
    def last_asked(self, expert_ids: list[str]) -> dict[str, str]: ...


@dataclass(frozen=True)
class Act:
    """One act on a case: what, by whom, through which channel, and what it carries."""

    # The lifecycle action; None for a mail that only recategorises or adds a note.
    action: lifecycle.Action | None
    actor: str  # who the timeline names: the link's address, the admin's actor, the sender
    channel: str  # link | admin | mail | requester
    expert_id: str | None = None
    # Where the actor's own mail goes (the new owner on 担当, the suggestions on
    # 調整開始, the accepting expert's introduction); None: no mail to the actor.
    address: str | None = None
    note: str = ""
    result: str = ""  # 完了 / 他機関紹介: the result, or the body the case went to
    session: dict[str, Any] | None = None  # a recorded consultation (the expert's link)
    category: str | None = None  # 分野: (mail)
    support_types: tuple[str, ...] | None = None  # 支援: (mail)


@dataclass(frozen=True)
class Decision:
    """What one act does to one case; the store applies it in one transaction."""

    changes: dict[str, Any]
    event: dict[str, Any]
    messages: list[OutgoingMessage]
    expert_load: dict[str, Any] | None
    status_before: Status
    status_after: Status


@dataclass(frozen=True)
class ActionDone:
    action: lifecycle.Action
    case: dict[str, Any]
    actor: str
    changed: bool


def for_expert(case: dict[str, Any]) -> dict[str, Any]:
    return {key: case[key] for key in EXPERT_VISIBLE if key in case} | {"status": case["status"]}


def _link_spec(
    action: lifecycle.Action, label: str, expert_id: str | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"action": action.value, "label": label}
    if expert_id:
        spec["expert_id"] = expert_id
    return spec


def rank_experts(
    case: dict[str, Any],
    roster: Roster,
    deployment: Deployment,
    now: datetime,
    *,
    skip: set[str],
    limit: int = SUGGESTIONS,
) -> MatchResult:
    """The one ranking every suggestion uses: the staff mail on 調整開始 and after a
    decline, and the admin API's suggestions (active experts, minus `skip`)."""
    experts = [e for e in roster.list_active() if e.expert_id not in skip]
    ids = [e.expert_id for e in experts]
    return suggest(
        case,
        experts,
        roster.load_of(ids),
        roster.last_asked(ids),
        limit=limit,
        category_labels=deployment.categories,
        now=now,
    )


def _suggestions(
    case: dict[str, Any], roster: Roster, deployment: Deployment, now: datetime, skip: set[str]
) -> list[dict[str, Any]]:
    result = rank_experts(case, roster, deployment, now, skip=skip)
    return [
        {
            "expert_id": s.expert_id,
            "display_name": s.display_name,
            "kind": s.kind,
            "reasons": [r.ja for r in s.reasons],
        }
        for s in result.suggestions
    ]


def matching_mail(
    case: dict[str, Any], actor: str, *, roster: Roster, deployment: Deployment, now: datetime
) -> OutgoingMessage:
    """The suggestions for a case entering matching, with a link to ask each expert."""
    found = _suggestions(case, roster, deployment, now, skip=set())
    return OutgoingMessage(
        template="matching_staff",
        to=(actor,),
        context={
            "case": case,
            "recipient": actor,
            "suggestions": found,
            "actions": [
                _link_spec(
                    lifecycle.Action.ASK_EXPERT, f"{s['display_name']}に依頼する", s["expert_id"]
                )
                for s in found
            ],
            "replyable": True,
        },
    )


def _staff_recipients(case: dict[str, Any], staff: DeskStaff) -> tuple[str, ...]:
    owner = case.get("owner")
    return (owner,) if isinstance(owner, str) and owner else staff.notify_to


def _messages(
    link: Act,
    case: dict[str, Any],
    written: dict[str, Any],
    *,
    roster: Roster,
    settings: Settings,
    deployment: Deployment,
    now: datetime,
    desk: DeskStaff,
) -> list[OutgoingMessage]:
    """The mail an action causes (written in the same transaction as the change)."""
    action = link.action
    if action is lifecycle.Action.RELEASE:
        # Off the suspected-spam shelf: the mail a new case sends, sent now.
        return staff_intake_messages(written, desk)
    if action is lifecycle.Action.START_MATCHING:
        if not link.address:
            return []
        return [matching_mail(written, link.address, roster=roster, deployment=deployment, now=now)]
    if action is lifecycle.Action.ASK_EXPERT and link.expert_id:
        expert = roster.get(link.expert_id)
        if expert is None:
            return []
        address = expert.contact_emails[0]
        return [
            OutgoingMessage(
                template="expert_request",
                to=(address,),
                context={
                    "case": for_expert(written),
                    "expert": {"display_name": expert.display_name},
                    "recipient": address,
                    "actions": [
                        _link_spec(
                            lifecycle.Action.EXPERT_ACCEPTED, "相談を引き受ける", expert.expert_id
                        ),
                        _link_spec(
                            lifecycle.Action.EXPERT_DECLINED, "今回は辞退する", expert.expert_id
                        ),
                    ],
                    "max_sessions": settings.max_sessions,
                },
            )
        ]
    if action is lifecycle.Action.EXPERT_ACCEPTED and link.expert_id:
        expert = roster.get(link.expert_id)
        if expert is None:
            return []
        expert_address = link.address or expert.contact_emails[0]
        expert_view = {
            "display_name": expert.display_name,
            "organization": expert.organization or "",
            "email": expert_address,
        }
        return [
            OutgoingMessage(
                template="intro_requester",
                to=(written["email"],),
                context={
                    "case": written,
                    "expert": expert_view,
                    "max_sessions": settings.max_sessions,
                },
            ),
            OutgoingMessage(
                template="intro_expert",
                to=(expert_address,),
                context={
                    "case": written,
                    "expert": expert_view,
                    "max_sessions": settings.max_sessions,
                    "recipient": expert_address,
                    "actions": [
                        {
                            "action": lifecycle.Action.RECORD_SESSION.value,
                            "label": f"{n}回目の相談を記録する",
                            "expert_id": link.expert_id,
                            "serial": n,
                        }
                        for n in range(1, settings.max_sessions + 1)
                    ],
                },
            ),
            *[
                OutgoingMessage(
                    template="expert_answer_staff",
                    to=(address,),
                    context={
                        "case": written,
                        "expert": expert_view,
                        "accepted": True,
                        "recipient": address,
                    },
                )
                for address in _staff_recipients(written, desk)
            ],
        ]
    if action is lifecycle.Action.RECORD_SESSION:
        sessions = written.get("sessions", [])
        context = {
            "case": {k: written[k] for k in ("receipt_number", "status") if k in written},
            "session": sessions[-1] if sessions else {},
            "formats": SESSION_FORMATS,
            "remaining": max(settings.max_sessions - len(sessions), 0),
            "max_sessions": settings.max_sessions,
        }
        staff = [
            OutgoingMessage(
                template="session_recorded",
                to=(address,),
                context={
                    **context,
                    "for_staff": True,
                    "recipient": address,
                    "actions": [lifecycle.Action.CLOSE.value],
                    "replyable": True,
                },
            )
            for address in _staff_recipients(written, desk)
        ]
        return [
            OutgoingMessage(
                template="session_recorded",
                to=(link.address or link.actor,),
                context={
                    **context,
                    "for_staff": False,
                    "recipient": link.address or link.actor,
                },
            ),
            *staff,
        ]
    if action is lifecycle.Action.EXPERT_DECLINED and link.expert_id:
        expert = roster.get(link.expert_id)
        skip = set(written.get("asked_experts", [])) | set(written.get("declined_experts", []))
        found = _suggestions(written, roster, deployment, now, skip=skip)
        return [
            OutgoingMessage(
                template="expert_answer_staff",
                to=(address,),
                context={
                    "case": written,
                    "expert": {"display_name": expert.display_name if expert else link.expert_id},
                    "accepted": False,
                    "recipient": address,
                    "suggestions": found,
                    "actions": [
                        _link_spec(
                            lifecycle.Action.ASK_EXPERT,
                            f"{s['display_name']}に依頼する",
                            s["expert_id"],
                        )
                        for s in found
                    ],
                    "replyable": True,
                },
            )
            for address in _staff_recipients(written, desk)
        ]
    if action is lifecycle.Action.WITHDRAW and link.channel == REQUESTER:
        return requester_withdrawal_messages(link, written, roster=roster, desk=desk)
    return []


# The requester acting on their own case from their page (chalicelib/requester).
REQUESTER = "requester"


def requester_withdrawal_messages(
    act: Act, written: dict[str, Any], *, roster: Roster, desk: DeskStaff
) -> list[OutgoingMessage]:
    """The requester withdrew: the staff (with the reason they gave) and every expert
    involved, asked or accepted, are told (the experts only the case number and the
    problem as they saw it: no reason, no person)."""
    involved = [*written.get("asked_experts", []), written.get("expert_id") or ""]
    messages = [
        OutgoingMessage(
            template="requester_withdrew_staff",
            to=(address,),
            context={
                "case": written,
                "reason": act.note.strip()[:MAX_NOTE],
                "recipient": address,
                "replyable": True,
            },
        )
        for address in _staff_recipients(written, desk)
    ]
    for expert_id in dict.fromkeys(e for e in involved if e):
        expert = roster.get(expert_id)
        if expert is None:
            continue
        messages.append(
            OutgoingMessage(
                template="requester_withdrew_expert",
                to=(expert.contact_emails[0],),
                context={
                    "case": for_expert(written),
                    "expert": {"display_name": expert.display_name},
                    "accepted": expert_id == written.get("expert_id"),
                },
            )
        )
    return messages


def _changes(
    link: Act,
    case: dict[str, Any],
    outcome: lifecycle.Outcome,
    roster: Roster,
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if outcome.changed:
        changes["status"] = outcome.status.value
    action = link.action
    session = link.session
    if action is lifecycle.Action.TAKE:
        changes["owner"] = link.address or link.actor
    elif action is lifecycle.Action.ASK_EXPERT and link.expert_id:
        expert = roster.get(link.expert_id)
        if expert is None or not expert.active:
            raise lifecycle.IllegalTransition(action, Status(case["status"]))
        changes["asked_experts"] = [*case.get("asked_experts", []), link.expert_id]
    elif action is lifecycle.Action.RECORD_SESSION:
        if link.expert_id != case.get("expert_id"):
            raise lifecycle.IllegalTransition(action, Status(case["status"]))
        changes["sessions"] = [*case.get("sessions", []), session]
    elif action in (lifecycle.Action.EXPERT_ACCEPTED, lifecycle.Action.EXPERT_DECLINED):
        if link.expert_id not in case.get("asked_experts", []):
            # Only an expert the desk asked answers, and only once.
            raise lifecycle.IllegalTransition(action, Status(case["status"]))
        changes["asked_experts"] = [e for e in case.get("asked_experts", []) if e != link.expert_id]
        if action is lifecycle.Action.EXPERT_ACCEPTED:
            changes["expert_id"] = link.expert_id
        else:
            changes["declined_experts"] = [*case.get("declined_experts", []), link.expert_id]
    return changes


ENDING = frozenset({lifecycle.Action.CLOSE, lifecycle.Action.REFER, lifecycle.Action.WITHDRAW})


def expert_load_change(
    action: lifecycle.Action, case: dict[str, Any], expert_id: str | None, at: str
) -> dict[str, Any] | None:
    """How an action moves an expert's open-case count and last request (matching reads both)."""
    if action is lifecycle.Action.ASK_EXPERT and expert_id:
        return {"expert_id": expert_id, "delta": 0, "last_asked_at": at}
    if action is lifecycle.Action.EXPERT_ACCEPTED and expert_id:
        return {"expert_id": expert_id, "delta": 1}
    if (
        action in ENDING
        and case.get("expert_id")
        and case.get("status") == Status.IN_PROGRESS.value
    ):
        return {"expert_id": case["expert_id"], "delta": -1}
    return None


def session_record(form: dict[str, str], serial: int, now: datetime) -> dict[str, Any]:
    """One consultation as the expert reports it; raises SessionInputInvalid."""
    try:
        held = date.fromisoformat(form.get("session_date", "").strip())
    except ValueError:
        raise SessionInputInvalid("相談した日を「2026-11-30」の形で入力してください。") from None
    if held > now.date() + timedelta(days=1):
        raise SessionInputInvalid("相談した日に、これからの日付は入力できません。")
    fmt = form.get("session_format", "")
    if fmt not in SESSION_FORMATS:
        raise SessionInputInvalid("相談の方法を選んでください。")
    report = form.get("report", "").replace("\r\n", "\n").strip()
    if not report:
        raise SessionInputInvalid("相談の内容を短くご報告ください。")
    return {"no": serial, "date": held.isoformat(), "format": fmt, "report": report[:MAX_REPORT]}


# What 完了 / 他機関紹介 may carry: the result, or the body the case was referred to.
RESULT_ACTIONS = frozenset({lifecycle.Action.CLOSE, lifecycle.Action.REFER})
MAX_RESULT = 200


def decide(
    case: Case,
    act: Act,
    *,
    roster: Roster,
    desk: Desk,
) -> Decision:
    """The one rule book: what `act` does to `case`. Raises IllegalTransition (the act does
    not apply to the case as it is: the case stays as it was, whatever the channel)."""
    settings, deployment, now = desk.settings, desk.deployment, desk.now
    record = case.record()
    before = case.status
    if act.action is not None:
        outcome = lifecycle.apply_to_case(act.action, record)
    else:
        if case.anonymised_at:
            raise lifecycle.CaseAnonymised(lifecycle.Action.TAKE, before)
        outcome = lifecycle.Outcome(before, False)
    changes = _changes(act, record, outcome, roster) if act.action is not None else {}
    result = act.result.strip()[:MAX_RESULT]
    if result and act.action in RESULT_ACTIONS:
        changes["outcome"] = result
    if act.category is not None and act.category != case.category:
        changes["category"] = act.category
    if act.support_types is not None and list(act.support_types) != case.support_types:
        changes["support_types"] = list(act.support_types)
    at = iso(now)
    event: dict[str, Any] = {
        "at": at,
        "event_id": uuid.uuid4().hex[:12],
        "type": "action" if act.action is not None else "update",
        "actor": act.actor,
        "channel": act.channel,
        "from_status": before.value,
        "to_status": outcome.status.value,
    }
    if act.action is not None:
        event["action"] = act.action.value
    if act.expert_id:
        event["expert_id"] = act.expert_id
    for name in ("outcome", "category", "support_types"):
        if name in changes:
            event[name] = changes[name]
    note = act.note.strip()[:MAX_NOTE]
    if note:
        event["note"] = note
    messages = (
        _messages(
            act,
            record,
            {**record, **changes},
            roster=roster,
            settings=settings,
            deployment=deployment,
            now=now,
            desk=desk.staff,
        )
        if act.action is not None
        else []
    )
    # Ending as 完了 / 他機関紹介: the closing mail to the requester, with the survey link.
    messages += closing_messages(record, {**record, **changes})
    return Decision(
        changes=changes,
        event=event,
        messages=messages,
        expert_load=(
            expert_load_change(act.action, record, act.expert_id, at)
            if act.action is not None
            else None
        ),
        status_before=before,
        status_after=outcome.status,
    )


def perform(
    act: Act,
    case: dict[str, Any],
    *,
    store: CaseChanges,
    roster: Roster,
    desk: Desk,
    link_use: dict[str, Any] | None = None,
    audit_by: access.Actor | None = None,
) -> ActionDone:
    """Decide and write: the decision, (for the admin API) the audit record and (for a link)
    the link's use, in one transaction.

    Raises IllegalTransition, VersionConflict (the case changed since it was read),
    LinkAlreadyUsed (`link_use` was used meanwhile) or StoreBusy.
    """
    if act.action is None:
        raise ValueError("perform writes a lifecycle action; mail commands write their own")
    settings, now = desk.settings, desk.now
    decision = decide(Case.of(case), act, roster=roster, desk=desk)
    audit = None
    if audit_by is not None:
        detail: dict[str, Any] = {
            "from_status": decision.status_before.value,
            "to_status": decision.status_after.value,
        }
        if act.expert_id:
            detail["expert_id"] = act.expert_id
        audit = access.audit_entry(
            audit_by,
            action=f"case.{act.action.value}",
            target_type="case",
            target_id=str(case["receipt_number"]),
            at=now,
            fields=sorted(decision.changes),
            detail=detail,
        )
    written = store.apply_change(
        case,
        changes=decision.changes,
        event=decision.event,
        messages=decision.messages,
        link_use=link_use,
        mail_expires_at=settings.retention().mail_expiry(int(now.timestamp())),
        expert_load=decision.expert_load,
        audit=audit,
        audit_expires=(
            int((now + timedelta(days=settings.audit_retention_days)).timestamp())
            if audit is not None
            else None
        ),
    )
    return ActionDone(
        action=act.action,
        case=written,
        actor=act.actor,
        changed=decision.status_before != decision.status_after or bool(decision.changes),
    )
