"""Use case: a staff member's reply to a case mail drives the case.

A message acts only when SES's verdicts pass, it was sent to a case's reply
address (whose MAC names the case) and its sender is registered staff.
Anything else is quarantined (recorded, nothing changed, logged for the
alarm); machine mail (auto-replies, bounces, lists) is dropped without an
answer. Quoted text is stripped before commands are read; the change, the
timeline event, the answer to the sender and the record of the SES message
are one transaction, so a redelivered message changes the case once.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core import lifecycle
from chalicelib.core.acting import Act, Roster, decide
from chalicelib.core.case import Case, OutgoingMessage
from chalicelib.core.errors import AlreadyProcessed, VersionConflict
from chalicelib.core.ports import CaseChanges, Desk
from chalicelib.core.receipt import JST
from chalicelib.core.replyaddress import read_reply_address
from chalicelib.core.settings import Settings
from chalicelib.core.timefmt import iso
from chalicelib.mailin.commands import ParsedReply, parse_reply
from chalicelib.mailin.parse import DEFAULT_MAX_BYTES, InboundMail, MalformedMail, parse_inbound

log = logging.getLogger(__name__)

# The largest message read from S3: the parser's own limit, stated once.
MAX_INBOUND_BYTES = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class SesReceipt:
    """What SES's receipt notification says about one message."""

    message_id: str
    recipients: list[str]
    verdicts: dict[str, str]
    bucket: str = ""
    key: str = ""


@dataclass
class InboundOutcome:
    kind: str  # applied | refused | dropped | quarantined | duplicate
    reason: str = ""
    receipt_number: str = ""
    changes: dict[str, Any] = field(default_factory=dict)


def verdicts_pass(verdicts: dict[str, str]) -> tuple[bool, str]:
    """SES's checks: no spam or virus, and the sender's domain vouched for it."""
    for name in ("spam", "virus"):
        if verdicts.get(name) != "PASS":
            return False, f"{name}_verdict"
    if verdicts.get("dmarc") == "PASS":
        return True, ""
    if verdicts.get("spf") == "PASS" and verdicts.get("dkim") == "PASS":
        return True, ""
    return False, "authentication_verdict"


def _quarantine(
    store: CaseChanges,
    receipt: SesReceipt,
    reason: str,
    now: datetime,
    settings: Settings,
    receipt_number: str = "",
) -> InboundOutcome:
    """Keep the mail aside, change nothing. `receipt_number`: the case its address names, if read."""
    fresh = store.record_inbound(
        receipt.message_id,
        {
            "at": iso(now),
            "outcome": "quarantined",
            "reason": reason,
            "s3_key": receipt.key,
            "expires_at": int((now + timedelta(days=settings.mail_retention_days)).timestamp()),
        },
        quarantined=True,
    )
    if fresh:
        # An ERROR line per quarantined message: the log metric behind the alarm.
        log.error(
            "inbound: quarantined %s (%s)",
            receipt.message_id,
            reason,
            extra=_keys(receipt, "quarantined", reason=reason, receipt_number=receipt_number),
        )
    return InboundOutcome("quarantined" if fresh else "duplicate", reason)


def _keys(receipt: SesReceipt, outcome: str, **known: str) -> dict[str, str]:
    """The structured keys of an inbound log line (infra/RUNBOOK.md "Logs Insights"); ids only."""
    return {
        "ses_message_id": receipt.message_id,
        "outcome": outcome,
        **{name: value for name, value in known.items() if value},
    }


def acts_of(parsed: ParsedReply, sender: str) -> list[tuple[int, Act]]:
    """The acts one reply asks for, in the order they apply, each with its line number.

    A reply holds at most 担当 and one status change (commands.py refuses more);
    担当 applies first, as a person reads it. A new category, support types and
    the note ride on the last act, or form an act of their own.
    """
    acts: list[tuple[int, Act]] = []
    ordered = sorted(
        (c for c in parsed.commands if c.kind == "action" and c.action),
        key=lambda c: c.action != lifecycle.Action.TAKE.value,
    )
    for command in ordered:
        result = str(command.value) if isinstance(command.value, str) else ""
        act = Act(
            lifecycle.Action(str(command.action)), sender, "mail", address=sender, result=result
        )
        acts.append((command.line, act))
    category = next(
        (c.value for c in parsed.commands if c.kind == "category" and isinstance(c.value, str)),
        None,
    )
    support_types = next(
        (
            tuple(c.value)
            for c in parsed.commands
            if c.kind == "support_types" and isinstance(c.value, list)
        ),
        None,
    )
    note = parsed.note[:4000]
    if acts:
        line, last = acts[-1]
        acts[-1] = (
            line,
            dataclasses.replace(last, category=category, support_types=support_types, note=note),
        )
    elif category is not None or support_types is not None or note:
        only = Act(
            None,
            sender,
            "mail",
            address=sender,
            note=note,
            category=category,
            support_types=support_types,
        )
        acts.append((0, only))
    return acts


@dataclass
class ReplyDecision:
    changes: dict[str, Any]
    event: dict[str, Any]
    messages: list[OutgoingMessage]
    expert_load: dict[str, Any] | None
    problems: list[str]


def decide_reply(
    case: dict[str, Any],
    parsed: ParsedReply,
    sender: str,
    *,
    roster: Roster,
    desk: Desk,
) -> ReplyDecision:
    """The reply's acts through core/acting.py `decide`, the same rules as links and the
    admin API, one after another; any act that does not apply refuses the whole reply."""
    problems = [f"{err.line}行目：{err.message}" for err in parsed.errors]
    current = Case.of(case)
    changes: dict[str, Any] = {}
    messages: list[OutgoingMessage] = []
    expert_load: dict[str, Any] | None = None
    event: dict[str, Any] = {}
    for line, act in acts_of(parsed, sender):
        try:
            decision = decide(current, act, roster=roster, desk=desk)
        except lifecycle.IllegalTransition as exc:
            problems.append(f"{line}行目：{exc.message}")
            continue
        changes.update(decision.changes)
        messages += decision.messages
        expert_load = expert_load or decision.expert_load
        event = decision.event
        current = Case.of({**current.record(), **decision.changes})
    return ReplyDecision(changes, event, messages, expert_load, problems)


def ingest_reply(
    raw: bytes,
    receipt: SesReceipt,
    *,
    store: CaseChanges,
    roster: Roster,
    desk: Desk,
) -> InboundOutcome:
    """Read one reply and act on it; only a member of the desk's list who may act by mail
    drives a case."""
    settings, deployment, now = desk.settings, desk.deployment, desk.now
    if store.inbound_seen(receipt.message_id):
        return InboundOutcome("duplicate")
    try:
        mail = parse_inbound(raw, max_bytes=MAX_INBOUND_BYTES)
    except MalformedMail:
        return _quarantine(store, receipt, "malformed", now, settings)
    if mail.automatic:
        store.record_inbound(
            receipt.message_id,
            {
                "at": iso(now),
                "outcome": "dropped",
                "reason": mail.automatic,
                "expires_at": int((now + timedelta(days=settings.mail_retention_days)).timestamp()),
            },
            quarantined=False,
        )
        log.info(
            "inbound: dropped %s (%s)",
            receipt.message_id,
            mail.automatic,
            extra=_keys(receipt, "dropped", reason=mail.automatic),
        )
        return InboundOutcome("dropped", mail.automatic)
    passed, why = verdicts_pass(receipt.verdicts)
    if not passed:
        return _quarantine(store, receipt, why, now, settings)
    target = _target(mail, receipt, settings)
    if target is None:
        return _quarantine(store, receipt, "no_case_address", now, settings)
    sender = mail.sender or ""
    if not desk.staff.may_act(sender):
        return _quarantine(store, receipt, "sender_not_staff", now, settings, target)
    # Only categories still offered can be given to a case by mail.
    categories = {
        key: (label.ja, label.en) for key, label in deployment.active_categories().items()
    }
    support_types = {
        key: (label.ja, label.en) for key, label in deployment.active_support_types().items()
    }
    for _attempt in range(2):
        case = store.get_case(target)
        if case is None:
            return _quarantine(store, receipt, "unknown_case", now, settings, target)
        if case.get("anonymised_at"):
            # The requester's data was erased: a reply must not bring new notes about them.
            return _quarantine(store, receipt, "case_anonymised", now, settings, target)
        parsed = parse_reply(mail.text, categories=categories, support_types=support_types)
        try:
            return _apply(store, case, parsed, mail, receipt, sender, roster, desk)
        except VersionConflict:
            continue  # someone acted in between: read again and re-apply once
        except AlreadyProcessed:
            return InboundOutcome("duplicate")
    return InboundOutcome("refused", "conflict", target)


def _target(mail: InboundMail, receipt: SesReceipt, settings: Settings) -> str | None:
    if not settings.mail_reply_domain:
        return None
    _, keys = settings.link_keys()
    for address in [*receipt.recipients, *mail.recipients]:
        found = read_reply_address(address, keys, settings.mail_reply_domain)
        if found is not None:
            return found.receipt_number
    return None


def _apply(
    store: CaseChanges,
    case: dict[str, Any],
    parsed: ParsedReply,
    mail: InboundMail,
    receipt: SesReceipt,
    sender: str,
    roster: Roster,
    desk: Desk,
) -> InboundOutcome:
    settings, now = desk.settings, desk.now
    decided = decide_reply(case, parsed, sender, roster=roster, desk=desk)
    problems = decided.problems
    refused = bool(problems)
    at = iso(now)
    if refused:
        changes: dict[str, Any] = {}
        event: dict[str, Any] = {
            "at": at,
            "event_id": uuid.uuid4().hex[:12],
            "type": "mail_refused",
            "actor": sender,
            "channel": "mail",
            "problems": problems,
        }
        messages: list[OutgoingMessage] = []
        expert_load = None
    else:
        changes = dict(decided.changes)
        event = {
            **(decided.event or {"at": at, "event_id": uuid.uuid4().hex[:12], "type": "update"}),
            "actor": sender,
            "channel": "mail",
        }
        messages = list(decided.messages)
        expert_load = decided.expert_load
    event["ses_message_id"] = receipt.message_id
    day = now.astimezone(JST).strftime("%Y-%m-%d")
    answered_today = (
        int(case.get("mail_answers", {}).get(day, 0))
        if isinstance(case.get("mail_answers"), dict)
        else 0
    )
    if answered_today < settings.mail_reply_cap_per_day:
        changes["mail_answers"] = {day: answered_today + 1}
        merged = {**case, **changes}
        messages.append(
            OutgoingMessage(
                template="reply_result",
                to=(sender,),
                context={
                    "case": {
                        key: merged[key]
                        for key in ("receipt_number", "status", "category", "created_at")
                        if key in merged
                    }
                    | ({"owner": merged["owner"]} if "owner" in merged else {}),
                    "refused": refused,
                    "problems": problems,
                    "applied": {k: v for k, v in changes.items() if k != "mail_answers"},
                    "note_recorded": bool(parsed.note) and not refused,
                    "replyable": True,
                },
            )
        )
    else:
        log.warning(
            "inbound: answer cap reached for %s today",
            case["receipt_number"],
            extra=_keys(receipt, "answer_capped", receipt_number=case["receipt_number"]),
        )
    store.apply_change(
        case,
        changes=changes,
        event=event,
        messages=messages,
        link_use=None,
        mail_expires_at=settings.retention().mail_expiry(int(now.timestamp())),
        inbound={
            "ses_message_id": receipt.message_id,
            "at": at,
            "outcome": "refused" if refused else "applied",
        },
        expert_load=expert_load,
    )
    kind = "refused" if refused else "applied"
    log.info(
        "inbound: %s %s on %s",
        kind,
        receipt.message_id,
        case["receipt_number"],
        extra=_keys(receipt, kind, receipt_number=case["receipt_number"]),
    )
    return InboundOutcome(kind, "; ".join(problems), case["receipt_number"], changes)
