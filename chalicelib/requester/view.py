"""What the requester's page shows of a case (pure): where it stands in their words, what
happens next and by when, the consultations left, and their own history.

Only what the requester may see: no staff names or addresses, no notes, no outcome text,
no expert before one accepted (and then only the name and organisation, which the
introduction mail already gave them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib.core.calendar import add_business_days, jst_date
from chalicelib.core.case import Status
from chalicelib.core.lifecycle import OPEN
from chalicelib.core.timefmt import parse_iso

# Every status in the requester's words (requester/i18n.py STATUS_WORDS): nothing is left out.
REQUESTER_STATUS: dict[Status, str] = {
    Status.RECEIVED: "received",
    Status.SUSPECTED_SPAM: "checking",  # kept apart until staff look: received, being checked
    Status.HEARING: "hearing",
    Status.MATCHING: "matching",
    Status.IN_PROGRESS: "in_progress",
    Status.CLOSED: "closed",
    Status.REFERRED: "referred",
    Status.WITHDRAWN: "withdrawn",
    Status.SPAM: "ended",  # not called spam to the sender: closed without a consultation
}
# The usual path, shown as steps; referred / withdrawn / ended are shown instead of 完了.
STEPS = ("received", "hearing", "matching", "in_progress", "closed")
STEP_OF = {"checking": "received"}


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    kind: str  # received | status | addition
    status: str = ""  # the requester status a change led to
    text: str = ""  # the requester's own addition


@dataclass(frozen=True)
class PageView:
    receipt_number: str
    created_at: str
    language: str
    status: str  # the requester status (REQUESTER_STATUS)
    steps: tuple[str, ...]  # the steps shown (the usual path, with the ending in place of 完了)
    current_step: str
    next_key: str  # requester/i18n.py NEXT_WORDS key
    next_date: date | None
    max_sessions: int
    sessions_left: int
    show_sessions: bool
    expert: dict[str, str] | None
    can_act: bool
    held: bool
    history: list[HistoryEntry] = field(default_factory=list)


def requester_status(status: str) -> str:
    return REQUESTER_STATUS[Status(status)]


def _steps(status: str) -> tuple[str, ...]:
    if status in STEPS or status in STEP_OF:
        return STEPS
    # An ending other than 完了 takes 完了's place: the path the case really took.
    return (*STEPS[:-1], status)


def _next(
    case: dict[str, Any], status: Status, *, contact_days: int, idle_days: int, today: date
) -> tuple[str, date | None]:
    """The NEXT_WORDS key and the business day it names (None: no date is promised)."""
    if status is Status.RECEIVED:
        due = add_business_days(jst_date(parse_iso(str(case["created_at"]))), contact_days)
        return ("received", due) if today <= due else ("received_late", None)
    if status in (Status.HEARING, Status.MATCHING):
        # The desk's own rule: a case untouched for `idle_days` business days reminds staff.
        due = add_business_days(jst_date(parse_iso(str(case["updated_at"]))), idle_days)
        return (status.value, due) if today <= due else ("waiting_late", None)
    return REQUESTER_STATUS[status], None


def history(case: dict[str, Any], events: list[dict[str, Any]]) -> list[HistoryEntry]:
    """The requester's history: the receipt, each status change (in their words) and their
    own additions; nothing else of the timeline (no actors, notes or mail)."""
    found = [HistoryEntry(str(case["created_at"]), "received")]
    for event in sorted(events, key=lambda e: str(e.get("at", ""))):
        kind = event.get("type")
        before, after = event.get("from_status"), event.get("to_status")
        if kind == "action" and after and before != after:
            found.append(HistoryEntry(str(event["at"]), "status", status=requester_status(after)))
        elif kind == "requester_addition" and event.get("text"):
            found.append(HistoryEntry(str(event["at"]), "addition", text=str(event["text"])))
    return found


def page_view(
    case: dict[str, Any],
    events: list[dict[str, Any]],
    *,
    expert: dict[str, str] | None,
    max_sessions: int,
    contact_days: int,
    idle_days: int,
    now: datetime,
) -> PageView:
    """The page of one case as its requester sees it."""
    status = Status(case["status"])
    shown = REQUESTER_STATUS[status]
    next_key, next_date = _next(
        case, status, contact_days=contact_days, idle_days=idle_days, today=jst_date(now)
    )
    done = len(case.get("sessions") or [])
    accepted = status is Status.IN_PROGRESS or (
        status in (Status.CLOSED, Status.WITHDRAWN) and bool(case.get("matched_at"))
    )
    return PageView(
        receipt_number=str(case["receipt_number"]),
        created_at=str(case["created_at"]),
        language=str(case.get("language") or "ja"),
        status=shown,
        steps=_steps(shown),
        current_step=STEP_OF.get(shown, shown),
        next_key=next_key,
        next_date=next_date,
        max_sessions=max_sessions,
        sessions_left=max(max_sessions - done, 0),
        show_sessions=status in OPEN,
        expert=expert if accepted and case.get("expert_id") else None,
        can_act=status in OPEN and not case.get("anonymised_at"),
        held=status is Status.SUSPECTED_SPAM,
        history=history(case, events),
    )
