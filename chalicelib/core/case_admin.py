"""Cases for desk staff through the admin API: paged lists, one case's history, actions, suggestions.

Lists are Queries on an index, never a Scan: with a status, gsi1
STATUS#<status>; without one, gsi2 MONTH#<YYYY-MM> for each month of the
range (at most MAX_MONTHS). The date range narrows the sort key
(`<created>#<receipt>`), the category is a filter. Pages continue through an
opaque `next` cursor that names the query it belongs to and the last case
returned; anything else in it is refused (InvalidCursor → 400).

What a list row shows (and reads: the Query projects these attributes only):
ids with their labels, dates, the owner (a desk address), the assigned and
asked experts, sessions used, the version, and the requester's
organisation (the business, office or group staff recognise a case by on
the phone). The person's name, address, phone number and the message stay
in the case's own view.

Actions are the lifecycle's, done by core/acting.py `perform`, the
same code the mail links run: the rules live in one place. Each action's
audit record is written in the case change's own transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from chalicelib.core import access as admin
from chalicelib.core import acting as actions
from chalicelib.core import lifecycle
from chalicelib.core.case import STATUS_LABELS, STORAGE_ATTRIBUTES, Case, Status
from chalicelib.core.deployment import Deployment
from chalicelib.core.errors import FieldError, InvalidAdminInput, NotFound, VersionConflict
from chalicelib.core.ports import CaseChanges, Desk
from chalicelib.core.receipt import JST, is_valid_receipt_number
from chalicelib.core.staff import DeskStaff, StaffMember
from chalicelib.core.timefmt import iso

MAX_MONTHS = 24
DEFAULT_MONTHS = 12
# The dates a list may name. Receipt numbers carry a two-digit year
# (DX-YYMMDD-…), so no case is dated outside this century; a date beyond it
# is a typo, and year 1 or 9999 would overflow the arithmetic below.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
MAX_CURSOR = 1024
CURSOR_VERSION = 1

# What a list row reads of a case (the Query's projection).
LIST_ATTRIBUTES: tuple[str, ...] = (
    "receipt_number",
    "status",
    "category",
    "requester_type",
    "municipality",
    "support_types",
    "preferred_format",
    "channel",
    "organization",
    "owner",
    "created_at",
    "updated_at",
    "expert_id",
    "asked_experts",
    "sessions",
    "version",
)

# Actions staff may take through the API: the staff links' actions, plus an
# expert's answer the desk received by phone or mail (recorded on the
# expert's behalf; the lifecycle still requires that the expert was asked).
# Recording a session stays with the expert's own single-use links.
ADMIN_ACTIONS: tuple[lifecycle.Action, ...] = tuple(
    action for action in lifecycle.Action if action is not lifecycle.Action.RECORD_SESSION
)
NEEDS_EXPERT = frozenset(
    {
        lifecycle.Action.ASK_EXPERT,
        lifecycle.Action.EXPERT_ACCEPTED,
        lifecycle.Action.EXPERT_DECLINED,
    }
)

_ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z"
_CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_ISO_RE = re.compile(rf"^{_ISO}$")


class InvalidCursor(Exception):
    """A `next` cursor that this service did not hand out for this query."""


class CaseQueries(Protocol):
    def cases_page(
        self,
        *,
        by: str,
        value: str,
        low: str | None,
        high: str | None,
        category: str | None,
        attributes: tuple[str, ...],
        limit: int,
        start: tuple[str, str] | None,
        newest_first: bool,
        now_epoch: int,
    ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]: ...

    def case_items(
        self, receipt_number: str, now_epoch: int | None = None
    ) -> list[dict[str, Any]]: ...


class CaseAdminStore(CaseQueries, CaseChanges, Protocol):
    pass


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    category: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    newest_first: bool = True
    limit: int = 50


@dataclass(frozen=True)
class Plan:
    """The partitions a list walks, in order, and the sort-key range within each."""

    partitions: tuple[tuple[str, str], ...]  # (by, value): ("status", s) or ("month", m)
    low: str | None
    high: str | None
    fingerprint: str


def _field_error(field: str, message: str, message_en: str) -> InvalidAdminInput:
    return InvalidAdminInput(
        [FieldError(field=field, code="invalid", message=message, message_en=message_en)]
    )


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_between(first: date, last: date) -> list[str]:
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _months_back(day: date, count: int) -> date:
    """The first day of the month `count` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def _start_of(day: date) -> str:
    """The stored form (UTC ISO) of midnight in Japan at the start of `day`."""
    return iso(datetime.combine(day, time(0, 0), tzinfo=JST))


def _check_in_range(field: str, day: date | None) -> None:
    if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
        first, last = EARLIEST_DATE.isoformat(), LATEST_DATE.isoformat()
        raise InvalidAdminInput(
            [
                FieldError(
                    field=field,
                    code="out_of_range",
                    message=f"「{field}」は{first}から{last}までの日付で指定してください。",
                    message_en=f"'{field}' must be a date from {first} to {last}.",
                    loc=(field,),
                )
            ]
        )


def plan(given: CaseFilter, today: date) -> Plan:
    """Which index partitions and sort-key range a filter reads; raises InvalidAdminInput."""
    _check_in_range("from", given.date_from)
    _check_in_range("to", given.date_to)
    if given.date_from and given.date_to and given.date_from > given.date_to:
        raise _field_error(
            "from",
            "期間の開始日は終了日以前の日付にしてください。",
            "'from' must not be after 'to'.",
        )
    low = _start_of(given.date_from) if given.date_from else None
    high = _start_of(given.date_to + timedelta(days=1)) if given.date_to else None
    if given.status:
        partitions: list[tuple[str, str]] = [("status", given.status)]
        resolved_from, resolved_to = given.date_from, given.date_to
    else:
        last = given.date_to or today
        first = given.date_from or _months_back(last, DEFAULT_MONTHS - 1)
        months = _months_between(first, last)
        if len(months) > MAX_MONTHS:
            raise _field_error(
                "from",
                f"状態を指定しない場合、期間は{MAX_MONTHS}か月以内で指定してください。",
                f"Without a status the range may span at most {MAX_MONTHS} months.",
            )
        if given.newest_first:
            months.reverse()
        partitions = [("month", month) for month in months]
        resolved_from, resolved_to = first, last
        low, high = _start_of(first), _start_of(last + timedelta(days=1))
    query = json.dumps(
        [
            given.status,
            given.category,
            resolved_from.isoformat() if resolved_from else None,
            resolved_to.isoformat() if resolved_to else None,
            given.newest_first,
        ]
    )
    return Plan(
        partitions=tuple(partitions),
        low=low,
        high=high,
        fingerprint=hashlib.sha256(query.encode("utf-8")).hexdigest()[:16],
    )


def encode_cursor(fingerprint: str, index: int, after: tuple[str, str] | None) -> str:
    data = {
        "v": CURSOR_VERSION,
        "q": fingerprint,
        "i": index,
        "a": list(after) if after else None,
    }
    raw = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str, query: Plan) -> tuple[int, tuple[str, str] | None]:
    """(partition index, the last case returned) of a cursor; raises InvalidCursor."""
    if len(text) > MAX_CURSOR or not _CURSOR_RE.match(text):
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidCursor() from None
    if not isinstance(data, dict) or set(data) != {"v", "q", "i", "a"}:
        raise InvalidCursor()
    index, after = data["i"], data["a"]
    if data["v"] != CURSOR_VERSION or data["q"] != query.fingerprint:
        raise InvalidCursor()  # another query's cursor (or an old format)
    if type(index) is not int or not 0 <= index < len(query.partitions):
        raise InvalidCursor()
    if after is None:
        return index, None
    if (
        not isinstance(after, list)
        or len(after) != 2
        or not all(isinstance(part, str) for part in after)
    ):
        raise InvalidCursor()
    created, receipt = after
    if not _ISO_RE.match(created) or not is_valid_receipt_number(receipt):
        raise InvalidCursor()
    position = f"{created}#{receipt}"
    # A start outside the query's sort-key range is refused by DynamoDB: refuse it here.
    if (query.low and position < query.low) or (query.high and position > query.high):
        raise InvalidCursor()
    return index, (created, receipt)


def _label(labels: Mapping[str, Any], item_id: Any) -> tuple[str, str]:
    found = labels.get(str(item_id))
    return (found.ja, found.en) if found is not None else (str(item_id), str(item_id))


def status_labels(status: str) -> tuple[str, str]:
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status, status


def list_row(case: Mapping[str, Any], deployment: Deployment, max_sessions: int) -> dict[str, Any]:
    """One case as the list shows it (see the module docstring for what is left out)."""
    status_ja, status_en = status_labels(str(case.get("status", "")))
    category = _label(deployment.categories, case.get("category", ""))
    requester = _label(deployment.requester_types, case.get("requester_type", ""))
    municipality = _label(deployment.municipalities, case.get("municipality", ""))
    return {
        "receipt_number": case.get("receipt_number"),
        "status": case.get("status"),
        "status_label": status_ja,
        "status_label_en": status_en,
        "category": case.get("category"),
        "category_label": category[0],
        "category_label_en": category[1],
        "requester_type": case.get("requester_type"),
        "requester_type_label": requester[0],
        "requester_type_label_en": requester[1],
        "municipality": case.get("municipality"),
        "municipality_label": municipality[0],
        "municipality_label_en": municipality[1],
        "support_types": list(case.get("support_types") or []),
        "preferred_format": case.get("preferred_format"),
        "channel": case.get("channel"),
        "organization": case.get("organization"),
        "owner": case.get("owner"),
        "created_at": case.get("created_at"),
        "updated_at": case.get("updated_at"),
        "expert_id": case.get("expert_id"),
        "asked_experts": list(case.get("asked_experts") or []),
        "sessions_used": len(case.get("sessions") or []),
        "max_sessions": max_sessions,
        "version": case.get("version"),
    }


def list_cases(
    store: CaseQueries,
    given: CaseFilter,
    *,
    cursor: str | None,
    today: date,
    now_epoch: int,
    deployment: Deployment,
    max_sessions: int,
) -> dict[str, Any]:
    """One page of cases and the cursor of the next (None: the last page)."""
    query = plan(given, today)
    index, after = decode_cursor(cursor, query) if cursor else (0, None)
    rows: list[dict[str, Any]] = []
    following: str | None = None
    while index < len(query.partitions):
        by, value = query.partitions[index]
        page, after = store.cases_page(
            by=by,
            value=value,
            low=query.low,
            high=query.high,
            category=given.category,
            attributes=LIST_ATTRIBUTES,
            limit=given.limit - len(rows),
            start=after,
            newest_first=given.newest_first,
            now_epoch=now_epoch,
        )
        rows.extend(list_row(case, deployment, max_sessions) for case in page)
        if after is not None:
            # This partition has more (the page is full, or its Query budget is spent).
            following = encode_cursor(query.fingerprint, index, after)
            break
        index += 1
        if len(rows) >= given.limit:
            if index < len(query.partitions):
                following = encode_cursor(query.fingerprint, index, None)
            break
    return {"cases": rows, "count": len(rows), "next": following}


# -- one case -------------------------------------------------------------------

MAIL_FIELDS = (
    "message_id",
    "template",
    "to",
    "state",
    "attempts",
    "created_at",
    "next_attempt_at",
    "sent_at",
    "failed_at",
    "last_error",
)


def assignments(
    events: Sequence[Mapping[str, Any]], case: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each expert the desk asked, in order: when, by whom, and the answer so far."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        expert_id = event.get("expert_id")
        action = event.get("action")
        if not isinstance(expert_id, str) or not expert_id:
            continue
        if action == lifecycle.Action.ASK_EXPERT.value:
            found[expert_id] = {
                "expert_id": expert_id,
                "asked_at": event.get("at"),
                "asked_by": event.get("actor"),
                "answer": "pending",
                "answered_at": None,
            }
        elif action in (
            lifecycle.Action.EXPERT_ACCEPTED.value,
            lifecycle.Action.EXPERT_DECLINED.value,
        ):
            entry = found.setdefault(
                expert_id,
                {"expert_id": expert_id, "asked_at": None, "asked_by": None},
            )
            accepted = action == lifecycle.Action.EXPERT_ACCEPTED.value
            entry["answer"] = "accepted" if accepted else "declined"
            entry["answered_at"] = event.get("at")
    for entry in found.values():
        entry["assigned"] = entry["expert_id"] == case.get("expert_id")
    return list(found.values())


def case_detail(
    store: CaseQueries,
    receipt_number: str,
    *,
    now_epoch: int,
    deployment: Deployment,
    max_sessions: int,
    expert_names: Mapping[str, str],
) -> dict[str, Any]:
    """The case with its whole history: events, mail with its state, expert assignments."""
    if not is_valid_receipt_number(receipt_number):
        raise NotFound("case")
    items = store.case_items(receipt_number, now_epoch)
    case = next((item for item in items if item.get("kind") == "case"), None)
    if case is None:
        raise NotFound("case")
    events = sorted(
        (
            {k: v for k, v in item.items() if k not in STORAGE_ATTRIBUTES}
            for item in items
            if item.get("kind") == "event"
        ),
        key=lambda event: (str(event.get("at", "")), str(event.get("event_id", ""))),
    )
    mails = sorted(
        (
            {name: item[name] for name in MAIL_FIELDS if name in item}
            for item in items
            if item.get("kind") == "message"
        ),
        key=lambda mail: (str(mail.get("created_at", "")), str(mail.get("message_id", ""))),
    )
    timeline = sorted(
        [{"entry": "event", **event} for event in events]
        + [{"entry": "mail", "at": mail.get("created_at"), **mail} for mail in mails],
        key=lambda entry: (str(entry.get("at", "")), entry["entry"]),
    )
    experts = assignments(events, case)
    for entry in experts:
        entry["display_name"] = expert_names.get(entry["expert_id"], entry["expert_id"])
    status = str(case["status"])
    try:
        available = lifecycle.available(Status(status))
    except ValueError:
        available = []
    return {
        "case": Case.of(case).record(),
        "summary": list_row(case, deployment, max_sessions),
        "timeline": timeline,
        "events": events,
        "mails": mails,
        "assignments": experts,
        "available_actions": [
            {
                "action": action.value,
                "label": lifecycle.ACTION_LABELS[action][0],
                "label_en": lifecycle.ACTION_LABELS[action][1],
            }
            for action in available
            if action in ADMIN_ACTIONS
        ],
    }


# -- actions ------------------------------------------------------------------


@dataclass(frozen=True)
class ActionInput:
    version: int
    expert_id: str | None = None
    owner: str | None = None
    note: str = ""
    outcome: str = ""


def admin_action(name: str) -> lifecycle.Action:
    """The action named in the path; NotFound for anything staff cannot do through the API."""
    try:
        action = lifecycle.Action(name)
    except ValueError:
        raise NotFound("action") from None
    if action not in ADMIN_ACTIONS:
        raise NotFound("action")
    return action


def _owner(
    given: str | None, actor: admin.Actor, desk: DeskStaff, members: Sequence[StaffMember]
) -> str:
    """The desk address that takes the case: the one given, else the caller's own (by label)."""
    if given:
        if desk.may_act(given) or given.lower() in {a.lower() for a in desk.notify_to}:
            return given.strip()
        raise _field_error(
            "owner",
            "担当者には事務局に登録された職員のメールアドレスを指定してください。",
            "'owner' must be the address of a registered desk staff member.",
        )
    for member in members:
        if member.active and member.display_name == actor.actor:
            return member.email
    if desk.may_act(actor.actor):
        return actor.actor
    raise _field_error(
        "owner",
        "担当者のメールアドレス（owner）を指定してください。案件のメールはその職員に届きます。",
        "Give 'owner': the desk address that will receive the case's mail.",
    )


def act(
    store: CaseChanges,
    roster: actions.Roster,
    actor: admin.Actor,
    receipt_number: str,
    action_name: str,
    given: ActionInput,
    *,
    desk: Desk,
    members: Sequence[StaffMember],
) -> actions.ActionDone:
    """Do one lifecycle action as `actor`, audited in the same transaction.

    Raises NotFound (case, action), InvalidAdminInput (a missing or unknown
    expert or owner), VersionConflict (the case changed since `given.version`
    was read, or changes before the write), IllegalTransition.
    """
    action = admin_action(action_name)
    if not is_valid_receipt_number(receipt_number):
        raise NotFound("case")
    case = store.get_case(receipt_number)
    if case is None:
        raise NotFound("case")
    if int(case["version"]) != given.version:
        raise VersionConflict()
    address: str | None = None
    expert = None
    if action in NEEDS_EXPERT:
        if not given.expert_id:
            raise _field_error(
                "expert_id", "専門家（expert_id）を指定してください。", "'expert_id' is required."
            )
        expert = roster.get(given.expert_id)
        if expert is None:
            raise _field_error(
                "expert_id",
                "指定された専門家は登録されていません。",
                "No expert with this id is registered.",
            )
    if action is lifecycle.Action.TAKE:
        address = _owner(given.owner, actor, desk.staff, members)
    elif action is lifecycle.Action.START_MATCHING:
        # The suggestions mail (with its ask links) goes to the case's owner; without
        # one, nobody: the caller reads GET .../suggestions instead.
        owner = case.get("owner")
        address = owner if isinstance(owner, str) and owner else None
    elif action is lifecycle.Action.EXPERT_ACCEPTED and expert is not None:
        address = expert.contact_emails[0]  # the introduction goes to the expert
    act = actions.Act(
        action,
        actor.actor,
        "admin",
        expert_id=given.expert_id if action in NEEDS_EXPERT else None,
        address=address,
        note=given.note,
        result=given.outcome,
    )
    return actions.perform(
        act,
        case,
        store=store,
        roster=roster,
        desk=desk,
        audit_by=actor,
    )


# -- suggestions ----------------------------------------------------------------


def _reason(reason: Any) -> dict[str, str]:
    return {"code": reason.code, "ja": reason.ja, "en": reason.en}


def suggestions(
    store: CaseChanges,
    roster: actions.Roster,
    receipt_number: str,
    *,
    deployment: Deployment,
    now: datetime,
    limit: int,
) -> dict[str, Any]:
    """Ranked experts for a case with their reasons, and who is left out and why.

    The ranking is core/acting.py `rank_experts`, the one the staff mail
    uses after 調整開始 and after a decline. Experts already asked, who
    declined, or assigned are not suggested again (listed under `skipped`).
    """
    if not is_valid_receipt_number(receipt_number):
        raise NotFound("case")
    case = store.get_case(receipt_number)
    if case is None:
        raise NotFound("case")
    asked = list(case.get("asked_experts") or [])
    declined = list(case.get("declined_experts") or [])
    assigned = [case["expert_id"]] if case.get("expert_id") else []
    skip = {*asked, *declined, *assigned}
    result = actions.rank_experts(case, roster, deployment, now, skip=skip, limit=limit)
    names = {expert.expert_id: expert.display_name for expert in roster.list_active()}
    skipped = (
        [{"expert_id": e, "reason": "assigned", "label": "担当中"} for e in assigned]
        + [{"expert_id": e, "reason": "asked", "label": "依頼済み（回答待ち）"} for e in asked]
        + [{"expert_id": e, "reason": "declined", "label": "辞退済み"} for e in declined]
    )
    for entry in skipped:
        entry["display_name"] = names.get(str(entry["expert_id"]), str(entry["expert_id"]))
    return {
        "receipt_number": receipt_number,
        "status": case["status"],
        "category": case.get("category"),
        "suggestions": [
            {
                "rank": rank,
                "expert_id": s.expert_id,
                "display_name": s.display_name,
                "kind": s.kind,
                "score": s.score,
                "reasons": [_reason(r) for r in s.reasons],
            }
            for rank, s in enumerate(result.suggestions, start=1)
        ],
        "excluded": [
            {
                "expert_id": e.expert_id,
                "display_name": names.get(e.expert_id, e.expert_id),
                "reason": _reason(e.reason),
            }
            for e in result.excluded
        ],
        "skipped": skipped,
    }
