"""Use case: SES tells us what became of a mail; undeliverable addresses are marked and staff told.

SES publishes the events of every mail sent with the desk's configuration
set to an SNS topic (infra/resources.yaml), which runs outbox/ses_events.py.
Each mail carries EmailTags naming its case and outbox message, so an event
finds its way back:

- a permanent bounce or a complaint marks each affected address
  undeliverable (the outbox sends nothing more to it), records 配信不能 on the
  case's timeline and tells staff;
- a transient bounce is only recorded on the timeline (SES has retried it);
- SES rejecting a mail it had accepted (virus) is recorded and staff told;
- a delivery notes `delivered_at` on the outgoing mail.

Loops are impossible by construction: a notice is never sent to an
undeliverable address, and a notice that fails never causes another.
The same notification delivered twice acts once (the store's conditional write).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.core.case import OutgoingMessage
from chalicelib.core.deskmail import is_desk_receipt
from chalicelib.core.ports import Desk
from chalicelib.core.settings import Settings
from chalicelib.core.timefmt import iso

log = logging.getLogger(__name__)

NOTICE_TEMPLATE = "mail_undeliverable_staff"

# What went wrong, as staff read it (Japanese, English).
REASONS: dict[str, tuple[str, str]] = {
    "bounce": (
        "あて先のメールサーバーが受け取りを拒否しました（存在しないアドレスなど）。",
        "The receiving mail server refused it for good (for example, the address does not exist).",
    ),
    "complaint": (
        "受信者がこのメールを迷惑メールとして報告しました。",
        "The recipient reported the mail as spam.",
    ),
    "undeliverable": (
        "このあて先は以前に配信不能となっているため、送信しませんでした。",
        "Not sent: this address was marked undeliverable earlier.",
    ),
    "rejected": (
        "メール送信サービス（Amazon SES）が送信を拒否しました。",
        "The mail service (Amazon SES) refused to send it.",
    ),
    "gave_up": (
        "メール送信サービスの混雑が続き、何度試しても送れませんでした。",
        "The mail service stayed busy; sending was given up after repeated tries.",
    ),
    "header_injection": (
        "メールの見出しに使えない文字が含まれていたため、メールを作成しませんでした。",
        "Not built: a header value contained a line break.",
    ),
}

# Reasons after which the address itself is marked (nothing more is sent to it).
MARKING = frozenset({"bounce", "complaint", "undeliverable"})

# Which mail failed, as staff read it (Japanese, English).
MAIL_KINDS: dict[str, tuple[str, str]] = {
    "intake_ack": ("受付の自動返信（相談者あて）", "acknowledgement to the requester"),
    "intake_staff": ("新規相談の通知（事務局あて）", "new-case notice to the desk"),
    "matching_staff": ("専門家の候補（事務局あて）", "expert suggestions to the desk"),
    "expert_request": ("相談の依頼（専門家あて）", "request to an expert"),
    "expert_answer_staff": ("専門家の回答の通知（事務局あて）", "expert's answer to the desk"),
    "intro_requester": ("専門家の紹介（相談者あて）", "introduction to the requester"),
    "intro_expert": ("相談者の紹介（専門家あて）", "introduction to the expert"),
    "session_recorded": ("相談記録の通知", "session record notice"),
    "reply_result": ("返信の処理結果（事務局あて）", "answer to a staff reply"),
    "daily_digest": ("日次のまとめ（事務局あて）", "daily digest to the desk"),
    "idle_reminder": ("滞留案件のお知らせ（事務局あて）", "idle-case reminder to the desk"),
    "monthly_summary": ("月次の集計（事務局あて）", "monthly summary"),
    NOTICE_TEMPLATE: ("配信不能のお知らせ（事務局あて）", "undeliverable notice to the desk"),
}

# Timeline event types and their labels (Japanese, English).
EVENT_LABELS: dict[str, tuple[str, str]] = {
    "mail_undeliverable": ("配信不能", "Undeliverable"),
    "mail_bounce_transient": ("一時的な配信エラー", "Temporary delivery error"),
    "mail_rejected": ("送信拒否", "Rejected by SES"),
}

# What a notice may show of the case (staff see the whole case anyway).
CASE_FIELDS = ("receipt_number", "name", "organization", "email", "phone", "status", "owner")

# A transaction holds at most 100 items; one mail has a handful of recipients.
MAX_MARKS = 50


class DeliverabilityRecords(Protocol):
    def undeliverable(self, addresses: Iterable[str], now_epoch: int) -> set[str]: ...

    def record_event(
        self,
        event_id: str,
        *,
        at: str,
        now_epoch: int,
        kind: str,
        receipt_number: str,
        marks: list[dict[str, str]],
        timeline: dict[str, Any] | None,
        notices: list[OutgoingMessage],
    ) -> bool: ...

    def record_delivery(self, receipt_number: str, message_id: str, at: str) -> bool: ...


class CaseLookup(Protocol):
    def get_case(
        self, receipt_number: str, now_epoch: int | None = None
    ) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class SesEvent:
    """One SES sending event, as much of it as the desk uses."""

    kind: str  # bounce | complaint | delivery | reject | rendering_failure | other
    event_id: str  # unique per notification: what makes a redelivery harmless
    ses_message_id: str
    at: str  # when it happened (ISO, the desk's format)
    recipients: tuple[str, ...] = ()
    permanent: bool = False
    detail: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def receipt_number(self) -> str:
        return self.tags.get("receipt_number", "")

    @property
    def message_id(self) -> str:
        return self.tags.get("message_id", "")

    @property
    def template(self) -> str:
        return self.tags.get("template", "")


_KINDS = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Reject": "reject",
    "Rendering Failure": "rendering_failure",
}


def _when(value: Any, fallback: datetime) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return iso(fallback)
    return iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _addresses(entries: Any) -> list[str]:
    """Addresses from a list of strings or of {"emailAddress": ...} (anything else skipped)."""
    if not isinstance(entries, list):
        return []
    found = [e.get("emailAddress") if isinstance(e, dict) else e for e in entries]
    return [str(a) for a in found if isinstance(a, str) and a]


def parse_ses_event(message: str, now: datetime) -> SesEvent | None:
    """The event in one SNS message body; None if it is not an SES event at all."""
    try:
        notice = json.loads(message)
    except ValueError:
        return None
    if not isinstance(notice, dict):
        return None
    mail = notice.get("mail")
    # Event publishing says eventType; identity feedback notifications say notificationType.
    kind_name = notice.get("eventType") or notice.get("notificationType")
    if not isinstance(mail, dict) or not isinstance(kind_name, str):
        return None
    kind = _KINDS.get(kind_name, "other")
    ses_id = str(mail.get("messageId", ""))
    raw_tags = mail.get("tags")
    raw_tags = raw_tags if isinstance(raw_tags, dict) else {}
    tags = {
        str(name): str(values[0])
        for name, values in raw_tags.items()
        if isinstance(values, list) and values and not str(name).startswith("ses:")
    }
    body = notice.get(kind_name[:1].lower() + kind_name[1:]) if kind != "rendering_failure" else {}
    body = body if isinstance(body, dict) else {}
    recipients: list[str] = []
    permanent = False
    detail = ""
    unique = str(body.get("feedbackId") or body.get("timestamp") or mail.get("timestamp") or "")
    if kind == "bounce":
        recipients = _addresses(body.get("bouncedRecipients"))
        permanent = body.get("bounceType") == "Permanent"
        detail = f"{body.get('bounceType', '')}/{body.get('bounceSubType', '')}"
    elif kind == "complaint":
        recipients = _addresses(body.get("complainedRecipients"))
        permanent = True
        detail = str(body.get("complaintFeedbackType", ""))
    elif kind == "delivery":
        recipients = _addresses(body.get("recipients"))
    elif kind == "reject":
        detail = str(body.get("reason", ""))
        recipients = _addresses(mail.get("destination"))
    return SesEvent(
        kind=kind,
        event_id=f"{kind}:{ses_id}:{unique}",
        ses_message_id=ses_id,
        at=_when(body.get("timestamp") or mail.get("timestamp"), now),
        recipients=tuple(recipients),
        permanent=permanent,
        detail=detail[:200],
        tags=tags,
    )


def notice_recipients(
    owner: str | None, staff: Iterable[str], blocked: set[str]
) -> tuple[str, ...]:
    """Who is told: the case's owner, else every desk address; never an undeliverable one."""
    if owner and owner.strip().lower() not in blocked:
        return (owner,)
    return tuple(a for a in staff if a.strip().lower() not in blocked)


def notice_candidates(case: dict[str, Any] | None, desk: Sequence[str]) -> list[str]:
    """Everyone a notice about this case might go to (checked for deliverability in one read).

    `desk`: the addresses told of new cases (runtime.directory().staff.notify_to)."""
    owner = (case or {}).get("owner")
    return [*([owner] if isinstance(owner, str) and owner else []), *desk]


def failure_notices(
    *,
    receipt_number: str,
    template: str,
    recipients: Iterable[str],
    reason: str,
    detail: str,
    case: dict[str, Any] | None,
    blocked: set[str],
    desk: Sequence[str],
    settings: Settings,
    at: str,
) -> list[OutgoingMessage]:
    """One notice per staff recipient about a mail that could not be delivered.

    None about a notice (a failing notice must not cause another), and none to
    an address in `blocked` (the undeliverable ones, lowercased).
    """
    if template == NOTICE_TEMPLATE:
        log.error(
            "deliverability: a notice to the desk failed (%s); not told again",
            reason,
            extra={"receipt_number": receipt_number, "outcome": "notice_failed", "reason": reason},
        )
        return []
    owner = (case or {}).get("owner")
    to = notice_recipients(owner if isinstance(owner, str) else None, desk, blocked)
    if not to:
        log.error(
            "deliverability: no deliverable desk address to tell about %s",
            receipt_number,
            extra={
                "receipt_number": receipt_number,
                "outcome": "no_desk_address",
                "reason": reason,
            },
        )
        return []
    reason_ja, reason_en = REASONS.get(reason, REASONS["rejected"])
    mail_ja, mail_en = MAIL_KINDS.get(template, (f"メール（{template}）", template))
    summary = {key: (case or {})[key] for key in CASE_FIELDS if key in (case or {})}
    summary["receipt_number"] = receipt_number
    failure = {
        "reason": reason,
        "reason_ja": reason_ja,
        "reason_en": reason_en,
        "marked": reason in MARKING,
        "template": template,
        "mail_ja": mail_ja,
        "mail_en": mail_en,
        "recipients": list(recipients),
        "detail": detail,
        "at": at,
    }
    desk_mail = is_desk_receipt(receipt_number)
    return [
        OutgoingMessage(
            template=NOTICE_TEMPLATE,
            to=(address,),
            context={
                "case": summary,
                "desk_mail": desk_mail,
                "failure": failure,
                "undeliverable_days": settings.undeliverable_retention_days,
                "recipient": address,
                # Staff may answer with a command, as to any case mail.
                "replyable": not desk_mail,
            },
        )
        for address in to
    ]


def _keys(event: SesEvent, outcome: str) -> dict[str, str]:
    """The structured keys of an SES event's log line (infra/RUNBOOK.md "Logs Insights"); ids only."""
    known = {
        "receipt_number": event.receipt_number,
        "message_id": event.message_id,
        "template": event.template,
    }
    return {
        "ses_message_id": event.ses_message_id,
        "ses_event": event.kind,
        "outcome": outcome,
        **{name: value for name, value in known.items() if value},
    }


def handle_event(
    event: SesEvent,
    *,
    store: DeliverabilityRecords,
    cases: CaseLookup,
    desk: Desk,
) -> str:
    """Apply one SES event (the desk's notified staff are told of failures). Returns
    undeliverable | recorded | delivered | ignored | duplicate."""
    settings, now = desk.settings, desk.now
    now_epoch = int(now.timestamp())
    receipt = event.receipt_number
    if event.kind == "delivery":
        if receipt and event.message_id:
            store.record_delivery(receipt, event.message_id, event.at)
        return "delivered"
    if event.kind not in ("bounce", "complaint", "reject"):
        log.info(
            "ses events: %s for %s ignored",
            event.kind,
            event.ses_message_id,
            extra=_keys(event, "ignored"),
        )
        return "ignored"
    case = cases.get_case(receipt, now_epoch) if receipt and not is_desk_receipt(receipt) else None
    known = case is not None or is_desk_receipt(receipt)
    reason = {"bounce": "bounce", "complaint": "complaint", "reject": "rejected"}[event.kind]
    marks = (
        [
            {
                "address": address,
                "reason": reason,
                "detail": event.detail,
                "ses_message_id": event.ses_message_id,
            }
            for address in event.recipients[:MAX_MARKS]
        ]
        if event.permanent
        else []
    )
    timeline = None
    notices: list[OutgoingMessage] = []
    if known:
        if event.permanent:
            kind = "mail_undeliverable"
        elif event.kind == "reject":
            kind = "mail_rejected"
        else:
            kind = "mail_bounce_transient"
        label_ja, label_en = EVENT_LABELS[kind]
        timeline = {
            "at": event.at,
            "type": kind,
            "label": label_ja,
            "label_en": label_en,
            "actor": "system",
            "channel": "mail",
            "reason": reason,
            "detail": event.detail,
            "recipients": list(event.recipients),
            "message_id": event.message_id,
            "template": event.template,
            "ses_message_id": event.ses_message_id,
            "expires_at": int(case["expires_at"])
            if case is not None
            else int((now + timedelta(days=settings.mail_retention_days)).timestamp()),
        }
        if event.permanent or event.kind == "reject":
            staff = desk.staff.notify_to
            candidates = notice_candidates(case, staff)
            blocked = store.undeliverable(candidates, now_epoch) | {
                mark["address"].strip().lower() for mark in marks
            }
            notices = failure_notices(
                receipt_number=receipt,
                template=event.template,
                recipients=event.recipients,
                reason=reason,
                detail=event.detail,
                case=case,
                blocked=blocked,
                desk=staff,
                settings=settings,
                at=event.at,
            )
    elif receipt or event.permanent:
        log.warning(
            "ses events: %s for %s names no live case; addresses marked: %d",
            event.kind,
            event.ses_message_id,
            len(marks),
            extra=_keys(event, "no_live_case"),
        )
    fresh = store.record_event(
        event.event_id,
        at=event.at,
        now_epoch=now_epoch,
        kind=event.kind,
        receipt_number=receipt if known else "",
        marks=marks,
        timeline=timeline,
        notices=notices,
    )
    if not fresh:
        return "duplicate"
    outcome = "undeliverable" if event.permanent else "recorded"
    log.info(
        "ses events: %s %s (%s) on %s, %d notice(s)",
        outcome,
        event.ses_message_id,
        event.kind,
        receipt or "-",
        len(notices),
        extra=_keys(event, outcome),
    )
    return outcome
