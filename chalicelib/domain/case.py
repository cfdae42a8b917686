"""Cases (案件): statuses, the record a submission creates, and what it counts (pure)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.domain.receipt import JST
from chalicelib.domain.timefmt import iso
from chalicelib.models import ConsultationCreate


class Status(StrEnum):
    RECEIVED = "received"
    HEARING = "hearing"
    MATCHING = "matching"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    REFERRED = "referred"
    WITHDRAWN = "withdrawn"
    SPAM = "spam"


STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.RECEIVED: ("受付", "Received"),
    Status.HEARING: ("ヒアリング", "Hearing"),
    Status.MATCHING: ("調整中", "Matching"),
    Status.IN_PROGRESS: ("対応中", "In progress"),
    Status.CLOSED: ("完了", "Closed"),
    Status.REFERRED: ("他機関紹介", "Referred"),
    Status.WITHDRAWN: ("取下げ", "Withdrawn"),
    Status.SPAM: ("スパム", "Spam"),
}


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
) -> dict[str, Any]:
    """The stored attributes of a new case (keys are added by the store)."""
    data = consultation.model_dump(mode="json", exclude={"privacy_notice_version"})
    case: dict[str, Any] = {
        "receipt_number": receipt_number,
        "status": Status.RECEIVED.value,
        "created_at": iso(now),
        "updated_at": iso(now),
        "month": month_of(now),
        "channel": channel,
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


def counter_increments(case: dict[str, Any]) -> dict[str, int]:
    """Monthly statistics counters one new case adds to (names are stable report keys)."""
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


@dataclass(frozen=True)
class OutgoingMessage:
    """One mail to send after the case is stored (the transactional outbox)."""

    template: str
    to: tuple[str, ...]
    context: dict[str, Any]
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)


# What a new case's staff notification offers, as signed links per recipient.
INTAKE_STAFF_ACTIONS = ("take", "start_hearing", "refer", "mark_spam")


def intake_messages(
    case: dict[str, Any], *, staff_notify_to: tuple[str, ...]
) -> list[OutgoingMessage]:
    """The automatic reply, and one staff notification per desk address (each with its own links)."""
    messages = [OutgoingMessage(template="intake_ack", to=(case["email"],), context={"case": case})]
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
