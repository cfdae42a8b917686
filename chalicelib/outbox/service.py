"""Use case: send the mail waiting in the outbox, each message at most once.

Before sending, the recipients are checked against the addresses marked
undeliverable (one BatchGetItem, which also covers the staff who would be
told): such a message is FAILED at once, never retried. Every FAILED message
is recorded on its case's timeline and the desk is told by mail, in the same
transaction (outbox/deliverability.py builds the notice; a failing notice
never causes another).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core import case as case_rules
from chalicelib.core.actiontoken import link_for
from chalicelib.core.case import STAFF_FANOUT, OutgoingMessage
from chalicelib.core.deskmail import is_desk_receipt
from chalicelib.core.errors import (
    ConfigError,
    PermanentSendError,
    TransientSendError,
    UncertainSendError,
)
from chalicelib.core.lifecycle import ACTION_LABELS, Action
from chalicelib.core.outbox import Claim
from chalicelib.core.ports import Desk
from chalicelib.core.replyaddress import reply_address
from chalicelib.core.requesterlink import page_link_for_case
from chalicelib.core.settings import Settings
from chalicelib.core.survey import signed_links as survey_links
from chalicelib.core.timefmt import iso
from chalicelib.outbox.deliverability import failure_notices, notice_candidates
from chalicelib.outbox.render import HeaderInjection, RenderError, build_mime, render

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)


class Outbox(Protocol):
    def due(self, now: str, limit: int = 50) -> list[dict[str, Any]]: ...
    def claim(self, message: dict[str, Any], now: str, lease_until: str) -> Claim | None: ...
    def mark_sent(self, claim: Claim, now: str, ses_message_id: str) -> bool: ...
    def release(self, claim: Claim, next_attempt_at: str, error: str) -> bool: ...
    def mark_failed(
        self,
        claim: Claim,
        now: str,
        error: str,
        event: dict[str, Any],
        *,
        state: str = "FAILED",
        notices: list[OutgoingMessage] | None = None,
    ) -> bool: ...
    def mark_unknown(self, message: dict[str, Any], now: str, event: dict[str, Any]) -> bool: ...
    def expand(
        self, fanout: dict[str, Any], messages: list[OutgoingMessage]
    ) -> list[dict[str, Any]] | None: ...
    def undeliverable(self, addresses: list[str], now_epoch: int) -> set[str]: ...


class Mailer(Protocol):
    def send(self, raw: bytes, *, sender: str, to: list[str], tags: dict[str, str]) -> str: ...


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    expanded: int = 0
    outcomes: list[str] = field(default_factory=list)


def backoff(attempts: int, jitter: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with jitter (half to full of the step), capped."""
    step = min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)
    return timedelta(seconds=step.total_seconds() * (0.5 + jitter() / 2))


def _event(
    kind: str, now: datetime, message: dict[str, Any], error: str, settings: Settings
) -> dict[str, Any]:
    # Desk-wide mail has no case: its events live as long as its mail.
    days = (
        settings.mail_retention_days
        if is_desk_receipt(message["receipt_number"])
        else settings.case_retention_days
    )
    return {
        "at": iso(now),
        "type": kind,
        "actor": "system",
        "channel": "mail",
        "message_id": message["message_id"],
        "template": message["template"],
        "error": error,
        "expires_at": int((now + timedelta(days=days)).timestamp()),
    }


def _keys(message: dict[str, Any], outcome: str) -> dict[str, str]:
    """The structured keys of an outbox log line (infra/RUNBOOK.md "Logs Insights"); ids only."""
    return {
        "receipt_number": str(message.get("receipt_number", "")),
        "message_id": str(message.get("message_id", "")),
        "template": str(message.get("template", "")),
        "outcome": outcome,
    }


def _context_case(message: dict[str, Any]) -> dict[str, Any] | None:
    """The case as the message's rendering context holds it (if the mail is about one)."""
    case = (message.get("context") or {}).get("case")
    return case if isinstance(case, dict) else None


def _fail(
    outbox: Outbox,
    claim: Claim,
    now: datetime,
    *,
    error: str,
    reason: str,
    recipients: list[str],
    blocked: set[str],
    desk: Sequence[str],
    settings: Settings,
) -> str:
    """FAILED for good: recorded on the timeline, and the desk told, in one write."""
    held = claim.message
    event = _event("mail_failed", now, held, error, settings)
    event["recipients"] = recipients
    notices = failure_notices(
        receipt_number=held["receipt_number"],
        template=held["template"],
        recipients=recipients,
        reason=reason,
        detail=error,
        case=_context_case(held),
        blocked=blocked,
        desk=desk,
        settings=settings,
        at=iso(now),
    )
    outbox.mark_failed(claim, iso(now), error, event, notices=notices)
    return "failed"


def with_links(message: dict[str, Any], settings: Settings, now: datetime) -> dict[str, Any]:
    """The rendering context, plus signed action links for the recipient when the mail offers any.

    Links are signed when the mail is sent, so no usable link is ever stored.
    """
    context = dict(message["context"])
    links = []
    for spec in context.get("actions") or []:
        # A plain action name, or {"action", "label", "expert_id"} for expert links.
        entry = spec if isinstance(spec, dict) else {"action": spec}
        action = Action(entry["action"])
        # A mail about several cases (the digest's suspected spam) names each link's case.
        receipt_number = entry.get("receipt_number") or message["receipt_number"]
        links.append(
            {
                "action": action.value,
                "label": entry.get("label") or ACTION_LABELS[action][0],
                "receipt_number": receipt_number,
                "url": link_for(
                    settings,
                    action=action,
                    receipt_number=receipt_number,
                    recipient=context["recipient"],
                    now=now,
                    expert_id=entry.get("expert_id"),
                    serial=entry.get("serial"),
                ),
            }
        )
    if links:
        context["links"] = links
    if context.get("requester_page") and isinstance(context.get("case"), dict):
        # The requester's own page (core/requesterlink.py), signed for the case's address.
        context["page_url"] = page_link_for_case(settings, context["case"])
    # The requester's survey and follow-up links (core/survey.py), signed the same way.
    context.update(survey_links(context, message["receipt_number"], settings, now))
    return context


def case_reply_address(settings: Settings, receipt_number: str) -> str | None:
    """The case's reply address, or None where the deployment receives no mail."""
    if not settings.mail_reply_domain:
        return None
    key_id, keys = settings.link_keys()
    return reply_address(keys, key_id, receipt_number, settings.mail_reply_domain)


def deliver(
    message: dict[str, Any],
    *,
    outbox: Outbox,
    mailer: Mailer,
    desk: Desk,
    jitter: Callable[[], float] = random.random,
) -> str:
    """Claim, render, send and record one message. Returns what happened to it (a failure
    notice goes to the desk's notified staff)."""
    settings, deployment, now = desk.settings, desk.deployment, desk.now
    staff = desk.staff.notify_to
    claim = outbox.claim(message, iso(now), iso(now + LEASE))
    if claim is None:
        return "skipped"
    held = claim.message
    recipients = list(held["to"])
    # One read: the recipients, and the staff a failure notice would go to.
    blocked = outbox.undeliverable(
        [*recipients, *notice_candidates(_context_case(held), staff)], int(now.timestamp())
    )
    refused = [address for address in recipients if address.strip().lower() in blocked]
    if refused:
        log.warning(
            "outbox: %s not sent: recipient marked undeliverable",
            held["message_id"],
            extra=_keys(held, "undeliverable"),
        )
        return _fail(
            outbox,
            claim,
            now,
            error="undeliverable",
            reason="undeliverable",
            recipients=refused,
            blocked=blocked,
            desk=staff,
            settings=settings,
        )
    try:
        rendered = render(
            held["template"],
            with_links(held, settings, now),
            settings=settings,
            deployment=deployment,
        )
        mime = build_mime(
            rendered,
            to=list(held["to"]),
            receipt_number=held["receipt_number"],
            message_id=held["message_id"],
            created_at=held["created_at"],
            settings=settings,
            reply_to=case_reply_address(settings, held["receipt_number"])
            if held["context"].get("replyable")
            else None,
        )
        raw = mime.as_bytes()
    except HeaderInjection:
        log.error(
            "outbox: refused to build message %s (header)",
            held["message_id"],
            extra=_keys(held, "header_injection"),
        )
        return _fail(
            outbox,
            claim,
            now,
            error="header_injection",
            reason="header_injection",
            recipients=recipients,
            blocked=blocked,
            desk=staff,
            settings=settings,
        )
    except (ConfigError, RenderError) as exc:
        # A missing setting or a broken template must not lose the mail: it
        # waits, and goes out once the deployment is fixed.
        outbox.release(claim, iso(now + backoff(int(held["attempts"]), jitter)), type(exc).__name__)
        log.error(
            "outbox: cannot build %s: %s", held["message_id"], exc, extra=_keys(held, "unbuildable")
        )
        return "retried"
    try:
        ses_id = mailer.send(
            raw,
            sender=settings.mail_from,
            to=recipients,
            # SES events carry these back (outbox/deliverability.py).
            tags={
                "receipt_number": held["receipt_number"],
                "message_id": held["message_id"],
                "template": held["template"],
            },
        )
    except TransientSendError as exc:
        if int(held["attempts"]) >= MAX_ATTEMPTS:
            log.error(
                "outbox: giving up on %s after %s attempts",
                held["message_id"],
                held["attempts"],
                extra=_keys(held, "gave_up"),
            )
            return _fail(
                outbox,
                claim,
                now,
                error=str(exc),
                reason="gave_up",
                recipients=recipients,
                blocked=blocked,
                desk=staff,
                settings=settings,
            )
        outbox.release(claim, iso(now + backoff(int(held["attempts"]), jitter)), str(exc))
        log.warning(
            "outbox: %s will be retried (%s)", held["message_id"], exc, extra=_keys(held, "retried")
        )
        return "retried"
    except PermanentSendError as exc:
        log.error(
            "outbox: SES refused %s (%s)", held["message_id"], exc, extra=_keys(held, "rejected")
        )
        return _fail(
            outbox,
            claim,
            now,
            error=str(exc),
            reason="rejected",
            recipients=recipients,
            blocked=blocked,
            desk=staff,
            settings=settings,
        )
    except UncertainSendError as exc:
        # Sending again could deliver twice; the desk is told instead.
        outbox.mark_failed(
            claim,
            iso(now),
            str(exc),
            _event("mail_unknown", now, held, str(exc), settings),
            state="UNKNOWN",
        )
        log.error(
            "outbox: outcome of %s unknown (%s); not resent",
            held["message_id"],
            exc,
            extra=_keys(held, "unknown"),
        )
        return "unknown"
    if not outbox.mark_sent(claim, iso(now), ses_id):
        log.error(
            "outbox: lost the claim on %s after sending",
            held["message_id"],
            extra=_keys(held, "claim_lost"),
        )
    else:
        log.info(
            "outbox: sent %s (%s)", held["message_id"], held["template"], extra=_keys(held, "sent")
        )
    return "sent"


def send(
    message: dict[str, Any],
    *,
    outbox: Outbox,
    mailer: Mailer,
    desk: Desk,
    jitter: Callable[[], float] = random.random,
) -> list[str]:
    """Deliver one message; a staff fan-out (core/case.py STAFF_FANOUT) first becomes one
    notice per staff member the desk has now, each then delivered here like any message
    (a crash in between leaves them PENDING for the stream and the sweep)."""
    if message.get("template") != STAFF_FANOUT:
        return [deliver(message, outbox=outbox, mailer=mailer, desk=desk, jitter=jitter)]
    case = _context_case(message)
    notices = case_rules.staff_notices(case, desk.staff) if case is not None else []
    stored = outbox.expand(message, notices)
    if stored is None:
        return ["skipped"]
    log.info(
        "outbox: %s expanded to %s notices",
        message["message_id"],
        len(stored),
        extra=_keys(message, "expanded"),
    )
    outcomes = ["expanded"]
    for notice in stored:
        outcomes.append(deliver(notice, outbox=outbox, mailer=mailer, desk=desk, jitter=jitter))
    return outcomes


def drain(
    *,
    outbox: Outbox,
    mailer: Mailer,
    desk: Desk,
    limit: int = 50,
    jitter: Callable[[], float] = random.random,
) -> DrainReport:
    """Send what is due; mark claims that outlived their lease as UNKNOWN."""
    settings, now = desk.settings, desk.now
    report = DrainReport()
    for message in outbox.due(iso(now), limit):
        if message.get("state") == "SENDING":
            if outbox.mark_unknown(
                message, iso(now), _event("mail_unknown", now, message, "lease_expired", settings)
            ):
                report.unknown += 1
                report.outcomes.append("unknown")
            continue
        for outcome in send(message, outbox=outbox, mailer=mailer, desk=desk, jitter=jitter):
            report.outcomes.append(outcome)
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report
