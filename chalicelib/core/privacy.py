"""Personal data requests (pure): what an export shows, and what erasure keeps of each stored item.

Erasure anonymises a case rather than deleting it: the receipt number, the
dates, the status, the anonymous classification (requester type,
municipality, category, support types, format), the sessions' numbers, dates
and formats and every timestamp stay, so lead times and statistics survive;
names, contacts, the organisation and every free text go. The rule is a list
of what each kind of item KEEPS, not of what it loses: an attribute someone
adds later is dropped by default unless it is a timestamp (`*_at`), a number
or a flag, none of which can carry a name or a message.

Pending mail of an erased case is cancelled (its rendering context holds
the requester's data, and mail to an erased address must not go out); the
requester's address is taken out of every mail record's recipients.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.core.case import KEY_ATTRIBUTES
from chalicelib.core.timefmt import iso

_COMMON = frozenset({"pk", "sk", "kind", "receipt_number", "retention_class", "expires_at"})

# The case: ids, dates, status, the anonymous classification, who at the desk
# owned it and which experts were involved (staff and experts are not the requester).
CASE_KEEPS = _COMMON | {
    "gsi1pk",
    "gsi1sk",
    "gsi2pk",
    "gsi2sk",
    "status",
    "created_at",
    "updated_at",
    "month",
    "channel",
    "version",
    "requester_type",
    "municipality",
    "category",
    "support_types",
    "preferred_format",
    "privacy_notice_version",
    "consented_at",
    "owner",
    "expert_id",
    "asked_experts",
    "declined_experts",
    "sessions",
    "mail_answers",
    "first_contact_at",
    "matched_at",
    "ended_at",
    "anonymised_at",
}
# A session keeps its number, date and format; the expert's report is free text.
SESSION_KEEPS = frozenset({"no", "date", "format"})
# A timeline event keeps what happened and when; notes, problems quoted from
# a reply, outcomes in words and error texts (which can name an address) go.
EVENT_KEEPS = _COMMON | {
    "at",
    "event_id",
    "type",
    "action",
    "actor",
    "channel",
    "from_status",
    "to_status",
    "expert_id",
    "category",
    "support_types",
    "message_id",
    "template",
    "ses_message_id",
    "fields",
}
# An outgoing mail record keeps its id, template, state and times; its
# rendering context (a copy of the case) and error text go.
MESSAGE_KEEPS = _COMMON | {
    "message_id",
    "template",
    "to",
    "state",
    "attempts",
    "created_at",
    "next_attempt_at",
    "sent_at",
    "failed_at",
    "cancelled_at",
    "ses_message_id",
}
ASSIGNMENT_KEEPS = _COMMON | {"gsi1pk", "gsi1sk", "expert_id", "state", "status"}
# A survey record (core/survey.py) keeps its anonymous choices; the free comment goes, and
# so do its reminder and follow-up queue entries (an erased requester is never mailed).
# Its counts live on in the month's statistics counters.
SURVEY_KEEPS = _COMMON | {
    "month",
    "category",
    "experts",
    "outcome_status",
    "progress",
    "ratings",
    "followup_answer",
}

# States in which a message may still be sent: erasure cancels them.
UNSENT = frozenset({"PENDING", "SENDING"})
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}([T ][0-9:.+\-Z]{0,30})?$")


def normalised_address(address: str) -> str:
    return unicodedata.normalize("NFKC", address).strip().lower()


def requester_digest(email: str) -> str:
    """How a requester is named in keys and audit records: the SHA-256 of the
    NFKC-normalised, trimmed, lowercased address (the address itself never is)."""
    return hashlib.sha256(normalised_address(email).encode("utf-8")).hexdigest()


def item_part(item: dict[str, Any]) -> str:
    """Which part of a case an item of its partition is."""
    sk = str(item.get("sk", ""))
    if sk == "CASE":
        return "case"
    if sk.startswith("EVENT#"):
        return "event"
    if sk.startswith("MSG#"):
        return "message"
    if sk.startswith("EXPERT#"):
        return "assignment"
    if sk == "SURVEY":
        return "survey"
    return "other"


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its key attributes (what an export shows)."""
    return {name: value for name, value in item.items() if name not in KEY_ATTRIBUTES}


def export_case(items: list[dict[str, Any]], inbound: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything held under one case, grouped: the case, its timeline, mail, assignments."""
    parts: dict[str, list[dict[str, Any]]] = {
        "case": [],
        "event": [],
        "message": [],
        "assignment": [],
        "survey": [],
        "other": [],
    }
    for item in items:
        parts[item_part(item)].append(plain(item))
    case = parts["case"][0] if parts["case"] else {}
    return {
        "case": case,
        "timeline": sorted(parts["event"], key=lambda e: str(e.get("at", ""))),
        "mail": sorted(parts["message"], key=lambda m: str(m.get("created_at", ""))),
        "assignments": parts["assignment"],
        "inbound": sorted(inbound, key=lambda m: str(m.get("at", ""))),
        # The satisfaction survey: the requester's answers, comment included.
        "survey": parts["survey"],
        "other": parts["other"],
    }


def inbound_ids(items: Iterable[dict[str, Any]]) -> list[str]:
    """The SES ids of the inbound mail a case's timeline names (mail that changed the case)."""
    return sorted({str(i["ses_message_id"]) for i in items if i.get("ses_message_id")})


def _anonymous_value(name: str, value: Any) -> bool:
    """Kept whatever the item kind: timestamps, numbers and flags hold no name or message."""
    if isinstance(value, bool | int):
        return True
    return name.endswith("_at") and isinstance(value, str) and bool(_TIMESTAMP.match(value))


def _keep(item: dict[str, Any], keeps: frozenset[str]) -> dict[str, Any]:
    return {
        name: value
        for name, value in item.items()
        if name in keeps or _anonymous_value(name, value)
    }


def _anonymous_sessions(sessions: Any) -> list[dict[str, Any]]:
    if not isinstance(sessions, list):
        return []
    return [
        {name: value for name, value in session.items() if name in SESSION_KEEPS}
        for session in sessions
        if isinstance(session, dict)
    ]


def _anonymous_message(
    item: dict[str, Any], requester: set[str], now: datetime
) -> tuple[dict[str, Any], bool]:
    kept = _keep(item, MESSAGE_KEEPS)
    cancelled = str(item.get("state", "")) in UNSENT
    if cancelled:
        # Out of the outbox index (gsi2 is not kept), never sent.
        kept["state"] = "CANCELLED"
        kept["cancelled_at"] = iso(now)
    recipients = item.get("to")
    if isinstance(recipients, list):
        kept["to"] = [r for r in recipients if normalised_address(str(r)) not in requester]
    return kept, cancelled


@dataclass(frozen=True)
class Rewrite:
    """One item replaced by its anonymous form, if it still is as it was read."""

    item: dict[str, Any]
    # Attribute → value the stored item must still have (optimistic check).
    expect: dict[str, Any]
    part: str
    removed: tuple[str, ...]
    cancels: bool = False  # an unsent message that will never be sent


@dataclass(frozen=True)
class ErasurePlan:
    receipt_number: str
    rewrites: list[Rewrite]  # the case's own rewrite (if any) comes last
    requester_digests: list[str]  # lookup items to delete
    cancelled_mail: int
    anonymised_at: str
    event: dict[str, Any] | None  # the timeline entry saying the data was erased

    @property
    def changed(self) -> bool:
        return bool(self.rewrites)

    def removed_fields(self) -> list[str]:
        return sorted({f"{r.part}.{name}" for r in self.rewrites for name in r.removed})


def _removed(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(name for name in before if name not in after))


def plan_erasure(
    items: list[dict[str, Any]],
    *,
    now: datetime,
    actor: str,
) -> ErasurePlan | None:
    """What erasing the requester's data from one case partition changes; None without a case.

    An already anonymised case with nothing left to remove gives a plan
    with no rewrites (erasing twice changes nothing).
    """
    case = next((item for item in items if item_part(item) == "case"), None)
    if case is None:
        return None
    receipt = str(case["receipt_number"])
    email = case.get("email")
    requester = {normalised_address(email)} if isinstance(email, str) and email else set()
    rewrites: list[Rewrite] = []
    cancelled = 0
    for item in items:
        part = item_part(item)
        if part == "case":
            continue
        if part == "message":
            after, was_unsent = _anonymous_message(item, requester, now)
            cancelled += was_unsent
            expect = {"state": item.get("state")}
            if "lease_id" in item:
                expect["lease_id"] = item["lease_id"]
            if after != item:
                rewrites.append(Rewrite(after, expect, part, _removed(item, after), was_unsent))
            continue
        elif part == "event":
            after, expect = _keep(item, EVENT_KEEPS), {}
        elif part == "assignment":
            after, expect = _keep(item, ASSIGNMENT_KEEPS), {}
        elif part == "survey":
            after, expect = _keep(item, SURVEY_KEEPS), {}
        else:
            after, expect = _keep(item, _COMMON), {}
        if after != item:
            rewrites.append(Rewrite(after, expect, part, _removed(item, after)))

    anonymised_at = str(case.get("anonymised_at") or iso(now))
    case_after = _keep(case, CASE_KEEPS)
    if "sessions" in case:
        case_after["sessions"] = _anonymous_sessions(case["sessions"])
    case_after["anonymised_at"] = anonymised_at
    event = None
    if case_after != case:
        at = iso(now)
        case_after["version"] = int(case.get("version", 0)) + 1
        case_after["updated_at"] = at
        rewrites.append(
            Rewrite(
                case_after,
                {"version": case.get("version")},
                "case",
                _removed(case, case_after),
            )
        )
        event = {
            "at": at,
            "event_id": uuid.uuid4().hex[:12],
            "type": "personal_data_erased",
            "actor": actor,
            "channel": "admin",
        }
    return ErasurePlan(
        receipt_number=receipt,
        rewrites=rewrites,
        requester_digests=[requester_digest(email)] if isinstance(email, str) and email else [],
        cancelled_mail=cancelled,
        anonymised_at=anonymised_at,
        event=event,
    )


@dataclass(frozen=True)
class ErasurePart:
    """The writes of one transaction (the last part carries the case and the lookup deletes)."""

    rewrites: list[Rewrite]
    deletes: list[str] = field(default_factory=list)  # requester digests
    event: dict[str, Any] | None = None


def parts_of(plan: ErasurePlan, room: int) -> list[ErasurePart]:
    """Split a plan into transactions of at most `room` writes, the case's own write last.

    A case with a long history can hold more items than one TransactWriteItems
    takes (100); each earlier part only removes data, so a part that fails
    leaves nothing inconsistent, and running the erasure again finishes it.
    """
    others = [r for r in plan.rewrites if r.part != "case"]
    case = [r for r in plan.rewrites if r.part == "case"]
    final_size = len(case) + len(plan.requester_digests) + (1 if plan.event else 0)
    if final_size > room:
        raise ValueError("a transaction has no room for the case's own writes")
    parts: list[ErasurePart] = []
    while len(others) + final_size > room:
        parts.append(ErasurePart(others[:room]))
        others = others[room:]
    parts.append(ErasurePart([*others, *case], list(plan.requester_digests), plan.event))
    return parts
