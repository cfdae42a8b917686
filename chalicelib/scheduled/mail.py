"""Scheduled mail to the desk: what the daily digest, idle reminders and monthly summary say (pure).

Message ids are derived from the day (or month) and the recipient, so the
outbox's conditional put turns a second run of a job into a no-op.
Contexts carry ids only; templates turn them into labels.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from chalicelib.core import survey
from chalicelib.core.calendar import business_days_between, jst_date
from chalicelib.core.case import STATUS_LABELS, OutgoingMessage, Status
from chalicelib.core.deskmail import desk_receipt_number
from chalicelib.core.timefmt import parse_iso

# The order the digest lists open statuses in: the flow of a case.
OPEN_ORDER = (Status.RECEIVED, Status.HEARING, Status.MATCHING, Status.IN_PROGRESS)

# Counter name prefixes (core/case.py counter_increments) the summary breaks down by.
SUMMARY_KINDS = (
    "requester_type",
    "category",
    "support_type",
    "municipality",
    "channel",
    "outcome",
)
# The lead times the summary reports, with their Japanese names.
SUMMARY_LEADS = (
    ("first_contact", "受付から初回連絡まで"),
    ("matched", "受付から専門家決定まで"),
    ("closed", "受付から完了まで"),
)

WEEKDAYS_JA = "月火水木金土日"


def scheduled_message_id(kind: str, period: str, recipient: str) -> str:
    """A stable id per job, period and recipient (the address itself stays out of headers)."""
    digest = hashlib.sha256(recipient.strip().lower().encode("utf-8")).hexdigest()[:16]
    return f"{kind}-{period}-{digest}"


def day_label(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS_JA[day.weekday()]}）"


def case_row(case: dict[str, Any], today: date, idle_limit: int) -> dict[str, Any]:
    """One open case as scheduled mail shows it: ids, owner, age and idle time in business days."""
    idle = business_days_between(jst_date(parse_iso(case["updated_at"])), today)
    return {
        "receipt_number": case["receipt_number"],
        "status": case["status"],
        "requester_type": case.get("requester_type", ""),
        "municipality": case.get("municipality", ""),
        "category": case.get("category", ""),
        "owner": case.get("owner"),
        "created_at": case["created_at"],
        "updated_at": case["updated_at"],
        "age_days": business_days_between(jst_date(parse_iso(case["created_at"])), today),
        "idle_days": idle,
        "stalled": idle > idle_limit,
        "sessions_done": len(case.get("sessions", [])),
    }


# Suspected spam listed in one digest at most (newest first); the rest are counted.
HELD_LISTED = 20
HELD_EXCERPT = 60


def held_row(case: dict[str, Any]) -> dict[str, Any]:
    """A case kept as suspected spam, with enough of it for staff to judge."""
    message = " ".join(str(case.get("message", "")).split())
    return {
        "receipt_number": case["receipt_number"],
        "created_at": case["created_at"],
        "requester_type": case.get("requester_type", ""),
        "municipality": case.get("municipality", ""),
        "organization": case.get("organization", ""),
        "name": case.get("name", ""),
        "excerpt": message[:HELD_EXCERPT] + ("…" if len(message) > HELD_EXCERPT else ""),
    }


def held_actions(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Per case: release it as a normal consultation, or discard it (signed links per recipient)."""
    specs = []
    for row in rows:
        for action, label in (("release", "通常の相談として受け付ける"), ("mark_spam", "破棄する")):
            specs.append(
                {"action": action, "label": label, "receipt_number": row["receipt_number"]}
            )
    return specs


def digest_messages(
    cases: list[dict[str, Any]],
    *,
    today: date,
    idle_limit: int,
    staff: tuple[str, ...],
    held: list[dict[str, Any]] | None = None,
    actors: frozenset[str] = frozenset(),
) -> tuple[str, list[OutgoingMessage]]:
    """The pseudo receipt number and one digest per desk address, cases grouped by status.

    `held` (suspected spam) are listed apart, newest first, each with release and
    discard links for the recipients in `actors` (lower-cased addresses of those who
    may act by mail).
    """
    rows = [case_row(case, today, idle_limit) for case in cases]
    held_rows = sorted(
        (held_row(case) for case in held or []),
        key=lambda row: (row["created_at"], row["receipt_number"]),
        reverse=True,
    )
    listed = held_rows[:HELD_LISTED]
    groups = [
        {
            "status": status.value,
            "cases": sorted(
                (row for row in rows if row["status"] == status.value),
                key=lambda row: (row["created_at"], row["receipt_number"]),
            ),
        }
        for status in OPEN_ORDER
    ]
    period = today.isoformat()
    context = {
        "day": period,
        "day_label": day_label(today),
        "groups": groups,
        "total": len(rows),
        "stalled": sum(1 for row in rows if row["stalled"]),
        "idle_limit": idle_limit,
        "held": listed,
        "held_total": len(held_rows),
    }
    messages = [
        OutgoingMessage(
            template="daily_digest",
            to=(address,),
            context={
                **context,
                "recipient": address,
                "actions": held_actions(listed) if address.lower() in actors else [],
            },
            message_id=scheduled_message_id("digest", period, address),
        )
        for address in staff
    ]
    return desk_receipt_number("digest", period), messages


def reminder_messages(
    case: dict[str, Any], *, today: date, idle_limit: int, staff: tuple[str, ...]
) -> list[OutgoingMessage]:
    """Reminders for one case idle longer than `idle_limit` business days (none otherwise).

    To its owner when it has one, else to every desk address; unowned cases
    offer the "take" link.
    """
    row = case_row(case, today, idle_limit)
    if not row["stalled"]:
        return []
    recipients = (row["owner"],) if row["owner"] else staff
    period = today.isoformat()
    return [
        OutgoingMessage(
            template="idle_reminder",
            to=(address,),
            context={
                "case": row,
                "day_label": day_label(today),
                "idle_limit": idle_limit,
                "recipient": address,
                "actions": [] if row["owner"] else ["take"],
                "replyable": True,
            },
            message_id=scheduled_message_id("reminder", period, address),
        )
        for address in recipients
    ]


def summary_context(month: str, counters: dict[str, int]) -> dict[str, Any]:
    """The month's counters broken down by kind, largest first (ids; labels in the template)."""
    breakdown: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SUMMARY_KINDS}
    for name, count in counters.items():
        kind, _, value = name.partition(":")
        if kind in breakdown and value:
            breakdown[kind].append({"id": value, "count": count})
    for rows in breakdown.values():
        rows.sort(key=lambda row: (-row["count"], row["id"]))
    for row in breakdown["outcome"]:
        known = row["id"] in {status.value for status in Status}
        row["label"] = STATUS_LABELS[Status(row["id"])][0] if known else row["id"]
    leads = []
    for name, title in SUMMARY_LEADS:
        count = counters.get(f"lead:{name}:count", 0)
        if count:
            days = counters.get(f"lead:{name}:business_days", 0) / count
            leads.append({"title": title, "count": count, "business_days": f"{days:.1f}"})
    year, _, number = month.partition("-")
    return {
        "month": month,
        "month_label": f"{int(year)}年{int(number)}月",
        "total": counters.get("cases", 0),
        "breakdown": breakdown,
        "leads": leads,
        # The satisfaction survey and follow-up (counts and rates, no comments).
        "survey": survey.figures(counters),
    }


def summary_messages(
    month: str, counters: dict[str, int], *, to: tuple[str, ...]
) -> tuple[str, list[OutgoingMessage]]:
    """The pseudo receipt number and one summary of `month` per manager address."""
    context = summary_context(month, counters)
    messages = [
        OutgoingMessage(
            template="monthly_summary",
            to=(address,),
            context=context,
            message_id=scheduled_message_id("summary", month, address),
        )
        for address in to
    ]
    return desk_receipt_number("summary", month), messages
