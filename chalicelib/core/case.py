"""Cases (案件): statuses, the record a submission creates, and what it counts (pure)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core.consultation import ConsultationCreate
from chalicelib.core.receipt import JST
from chalicelib.core.staff import DeskStaff
from chalicelib.core.timefmt import iso, parse_iso


class Status(StrEnum):
    RECEIVED = "received"
    HEARING = "hearing"
    MATCHING = "matching"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    REFERRED = "referred"
    WITHDRAWN = "withdrawn"
    SPAM = "spam"
    SUSPECTED_SPAM = "suspected_spam"


STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.RECEIVED: ("受付", "Received"),
    Status.HEARING: ("ヒアリング", "Hearing"),
    Status.MATCHING: ("調整中", "Matching"),
    Status.IN_PROGRESS: ("対応中", "In progress"),
    Status.CLOSED: ("完了", "Closed"),
    Status.REFERRED: ("他機関紹介", "Referred"),
    Status.WITHDRAWN: ("取下げ", "Withdrawn"),
    Status.SPAM: ("スパム", "Spam"),
    Status.SUSPECTED_SPAM: ("迷惑投稿の疑い", "Suspected spam"),
}


class Session(BaseModel):
    """One consultation with the expert, as the expert reported it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    no: int
    date: str
    format: str
    report: str | None = None  # gone once the requester's personal data is erased


class Case(BaseModel):
    """A case as stored: the one description of its attributes (the admin API returns it).

    Services read it typed; the store and the mail templates take its `record()`.
    Personal fields are optional because an erased case keeps only what
    core/privacy.py CASE_KEEPS lists.
    """

    # Built on first use: the intake path never validates a stored case (cold start).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    receipt_number: str
    status: Status
    created_at: str
    updated_at: str
    month: str
    channel: str
    language: str = "ja"
    version: int
    requester_type: str
    organization: str | None = None
    name: str | None = None
    name_raw: str | None = None
    name_kana: str | None = None
    email: str | None = None
    phone: str | None = None
    municipality: str
    support_types: list[str]
    category: str
    message: str | None = None
    preferred_format: str
    privacy_consent: bool | None = None
    privacy_notice_version: str
    consented_at: str
    owner: str | None = None
    outcome: str | None = None
    expert_id: str | None = None
    asked_experts: list[str] = Field(default_factory=list)
    declined_experts: list[str] = Field(default_factory=list)
    sessions: list[Session] = Field(default_factory=list)
    first_contact_at: str | None = None
    matched_at: str | None = None
    ended_at: str | None = None
    mail_answers: dict[str, int] = Field(default_factory=dict)
    anonymised_at: str | None = None
    retention_class: str
    expires_at: int

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Case:
        """The case from a stored item (its key and index attributes left out)."""
        return cls.model_validate({k: v for k, v in item.items() if k not in STORAGE_ATTRIBUTES})

    def record(self) -> dict[str, Any]:
        """The attributes as stored and as templates see them (absent ones left out)."""
        return self.model_dump(mode="json", exclude_none=True)


# The table's key and index attributes (storage/keys.py sets them), the same on every item.
KEY_ATTRIBUTES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"})
# Attributes of the stored item that belong to the table, not to the case.
STORAGE_ATTRIBUTES = KEY_ATTRIBUTES | {"kind"}


def fingerprint(consultation: ConsultationCreate) -> str:
    """A digest of the normalised submission: equal for a double click or a retry."""
    canonical = json.dumps(consultation.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def month_of(moment: datetime) -> str:
    """The statistics month (Japan time) a moment belongs to, as YYYY-MM."""
    return moment.astimezone(JST).strftime("%Y-%m")


def new_case(
    consultation: ConsultationCreate,
    *,
    receipt_number: str,
    now: datetime,
    channel: str,
    privacy_notice_version: str,
    raw_name: str | None,
    retention_days: int,
    held: bool = False,
    language: str = "ja",
) -> dict[str, Any]:
    """The stored attributes of a new case (keys are added by the store).

    `held`: the form's honeypot was filled; the case is kept as suspected
    spam until staff release or discard it.
    """
    data = consultation.model_dump(mode="json", exclude={"privacy_notice_version"})
    case: dict[str, Any] = {
        "receipt_number": receipt_number,
        "status": (Status.SUSPECTED_SPAM if held else Status.RECEIVED).value,
        "created_at": iso(now),
        "updated_at": iso(now),
        "month": month_of(now),
        "channel": channel,
        # The language the requester used (ja, en, easy): their mail comes in it first.
        "language": language,
        "version": 1,
        **{key: value for key, value in data.items() if value is not None},
        "privacy_notice_version": privacy_notice_version,
        "consented_at": iso(now),
        "retention_class": "case",
        "expires_at": int((now + timedelta(days=retention_days)).timestamp()),
    }
    # Keep what was typed when normalisation changed a name (e.g. half-width
    # kana or a compatibility kanji), so the desk can address people exactly.
    if raw_name is not None and raw_name.strip() != consultation.name:
        case["name_raw"] = raw_name
    return case


# Counters of the suspected-spam shelf: kept, released, discarded.
HELD_COUNTERS = ("held:received", "held:released", "held:discarded")


def counter_increments(case: dict[str, Any]) -> dict[str, int]:
    """Monthly statistics counters one new case adds to (names are stable report keys).

    A held case (suspected spam) counts on the shelf only; it joins the
    statistics when staff release it (change_tally)."""
    if case["status"] == Status.SUSPECTED_SPAM:
        return {"held:received": 1, f"status:{Status.SUSPECTED_SPAM.value}": 1}
    names = [
        "cases",
        f"requester_type:{case['requester_type']}",
        f"category:{case['category']}",
        f"municipality:{case['municipality']}",
        f"preferred_format:{case['preferred_format']}",
        f"channel:{case['channel']}",
        f"status:{case['status']}",
    ]
    names += [f"support_type:{kind}" for kind in case["support_types"]]
    return dict.fromkeys(names, 1)


# What a case's later changes count (lifecycle counters), in the month the
# case was RECEIVED (its `month`), never the month of the change: a month's
# report follows the cohort of cases submitted in it, so its outcomes and
# lead times always describe the same cases as its totals and its CSV export
# (they keep growing while those cases are open).
OUTCOMES = (Status.CLOSED, Status.REFERRED, Status.WITHDRAWN, Status.SPAM)
# Lead times, each measured from receipt (created_at) to the milestone:
# first_contact: the first staff action (taking the case or starting the hearing);
# matched: an expert accepted (matching → in progress); closed: the case reached 完了.
LEAD_TIMES = ("first_contact", "matched", "closed")
# Histogram of lead times in business days: (lowest, highest or None, bucket id).
LEAD_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "0"),
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 5, "3-5"),
    (6, 10, "6-10"),
    (11, None, "11+"),
)
# Case attributes stamped when a milestone is reached (first time only).
MILESTONE_FIELDS = {"first_contact": "first_contact_at", "matched": "matched_at"}
ENDED_FIELD = "ended_at"


def lead_bucket(business_days: int) -> str:
    for low, high, bucket in LEAD_BUCKETS:
        if business_days >= low and (high is None or business_days <= high):
            return bucket
    return LEAD_BUCKETS[0][2]


@dataclass(frozen=True)
class Tally:
    """What one change of a case stamps on it and adds to its month's counters."""

    stamps: dict[str, str]
    counters: dict[str, int]


def lead_between(created_at: str, at: str) -> tuple[int, int]:
    """(seconds, business days) from `created_at` to `at` (stored ISO timestamps)."""
    # Imported here: jpholiday is not needed on the intake path (cold start).
    from chalicelib.core.calendar import business_days_between, jst_date

    start, end = parse_iso(created_at), parse_iso(at)
    seconds = max(int((end - start).total_seconds()), 0)
    return seconds, business_days_between(jst_date(start), jst_date(end))


def lead_counters(name: str, created_at: str, at: str) -> dict[str, int]:
    """Sum, count and histogram bucket of one lead time (seconds and business days)."""
    seconds, business_days = lead_between(created_at, at)
    return {
        f"lead:{name}:count": 1,
        f"lead:{name}:seconds": seconds,
        f"lead:{name}:business_days": business_days,
        f"lead:{name}:bucket:{lead_bucket(business_days)}": 1,
    }


def change_tally(before: dict[str, Any], after: dict[str, Any], at: str) -> Tally:
    """The counters one change moves (state-based, so every path counts alike: link, mail, admin).

    - status:<s> follows each case's current status (one moves from old to new);
    - outcome:<s> counts a case reaching 完了, 他機関紹介, 取下げ or スパム (once);
    - category:<id> and support_type:<id> follow the desk's (re)categorisation;
    - lead times (LEAD_TIMES) are added when their milestone is first reached.
    """
    counters: dict[str, int] = {}
    stamps: dict[str, str] = {}

    def add(name: str, delta: int) -> None:
        counters[name] = counters.get(name, 0) + delta

    old, new = str(before["status"]), str(after["status"])
    if old == Status.SUSPECTED_SPAM and old != new:
        # Off the shelf: a release counts the case as the intake would have.
        counters = {f"status:{old}": -1}
        if new == Status.RECEIVED:
            counters |= {**counter_increments(after), "held:released": 1}
        else:
            counters["held:discarded"] = 1
        return Tally(stamps={}, counters=counters)
    if old != new:
        add(f"status:{old}", -1)
        add(f"status:{new}", 1)
        if new in OUTCOMES and old not in OUTCOMES:
            add(f"outcome:{new}", 1)
            stamps[ENDED_FIELD] = at
    if before.get("category") != after.get("category"):
        if before.get("category"):
            add(f"category:{before['category']}", -1)
        if after.get("category"):
            add(f"category:{after['category']}", 1)
    old_types = set(before.get("support_types") or [])
    new_types = set(after.get("support_types") or [])
    for kind in old_types - new_types:
        add(f"support_type:{kind}", -1)
    for kind in new_types - old_types:
        add(f"support_type:{kind}", 1)

    created = str(before.get("created_at") or "")
    reached = {
        "first_contact": (bool(after.get("owner")) and not before.get("owner"))
        or (old == Status.RECEIVED and new == Status.HEARING),
        "matched": old == Status.MATCHING and new == Status.IN_PROGRESS,
    }
    for name, field_name in MILESTONE_FIELDS.items():
        if reached[name] and not before.get(field_name):
            stamps[field_name] = at
            if created:
                for key, value in lead_counters(name, created, at).items():
                    add(key, value)
    if new == Status.CLOSED and old != Status.CLOSED and created:
        for key, value in lead_counters("closed", created, at).items():
            add(key, value)
    return Tally(stamps=stamps, counters={k: v for k, v in counters.items() if v})


@dataclass(frozen=True)
class OutgoingMessage:
    """One mail to send after the case is stored (the transactional outbox)."""

    template: str
    to: tuple[str, ...]
    context: dict[str, Any]
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)


# What a new case's staff notification offers, as signed links per recipient.
INTAKE_STAFF_ACTIONS = ("take", "start_hearing", "refer", "mark_spam")


def intake_ack_message(case: dict[str, Any]) -> OutgoingMessage:
    """The automatic reply to the requester."""
    # requester_page: the outbox signs the link to the requester's own page into the reply.
    return OutgoingMessage(
        template="intake_ack", to=(case["email"],), context={"case": case, "requester_page": True}
    )


def intake_messages(
    case: dict[str, Any], *, staff_notify_to: tuple[str, ...]
) -> list[OutgoingMessage]:
    """The automatic reply, and one staff notification per desk address (each with its own links)."""
    messages = [intake_ack_message(case)]
    for address in staff_notify_to:
        messages.append(
            OutgoingMessage(
                template="intake_staff",
                to=(address,),
                context={
                    "case": case,
                    "recipient": address,
                    "actions": list(INTAKE_STAFF_ACTIONS),
                    "replyable": True,
                },
            )
        )
    return messages


@dataclass(frozen=True)
class IdempotencyClaim:
    """A record that makes a repeated submission return the first receipt number."""

    kind: str  # "key" (Idempotency-Key header) or "payload" (same content, short window)
    digest: str
    fingerprint: str
    expires_at: int


@dataclass(frozen=True)
class RateWindow:
    """One client's submissions in one hour, capped at `limit`."""

    client_digest: str
    hour: str
    limit: int
    expires_at: int


def _staff_links_only_for_actors(
    messages: list[OutgoingMessage], desk: DeskStaff
) -> list[OutgoingMessage]:
    """A member told of new cases who may not act by mail gets the notice without links
    or a reply address (their links and replies would be refused anyway)."""
    found = []
    for message in messages:
        if message.template == "intake_staff" and not desk.may_act(message.to[0]):
            # "links" present and empty: the template's links block renders nothing to press.
            context = {**message.context, "actions": [], "links": [], "replyable": False}
            message = dataclasses.replace(message, context=context)
        found.append(message)
    return found


def staff_intake_messages(case: dict[str, Any], desk: DeskStaff) -> list[OutgoingMessage]:
    """What a new case sends: the automatic reply and the desk's notifications."""
    return _staff_links_only_for_actors(intake_messages(case, staff_notify_to=desk.notify_to), desk)


# The desk's new-case notices are addressed when they are sent, not when the case is
# stored: a submission writes one fan-out message, and the outbox turns it into one
# notice per staff member it reads at that moment (outbox/service.py `send`). So the
# intake reads nothing before its one write, not even after a cold start.
STAFF_FANOUT = "intake_staff_fanout"


def intake_fanout_messages(case: dict[str, Any]) -> list[OutgoingMessage]:
    """What a new case stores: the automatic reply and the fan-out of the desk's notices."""
    return [
        intake_ack_message(case),
        OutgoingMessage(template=STAFF_FANOUT, to=(), context={"case": case}),
    ]


def staff_notices(case: dict[str, Any], desk: DeskStaff) -> list[OutgoingMessage]:
    """A fan-out's notices: one per staff member told of new cases (links only for actors)."""
    return [m for m in staff_intake_messages(case, desk) if m.template == "intake_staff"]
