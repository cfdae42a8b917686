"""Use cases of the requester's side: open their page, add information, withdraw, and get the
page link again by receipt number and address.

The page link (core/requesterlink.py) only shows; every POST carries its own single-use
action token, claimed in the same transaction as the change. Withdrawing is the lifecycle
action `withdraw` through core/acting.py `perform` (channel "requester"), the one decision
every channel takes; an addition and a resent link change no case attribute, so they are
the requester's timeline event and its mail, written together (storage/requester.py).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.core import lifecycle, requesterlink
from chalicelib.core.acting import MAX_NOTE, REQUESTER, Act, ActionDone, Roster, perform
from chalicelib.core.actiontoken import ActionClaim, TokenProblem, TokenRefused
from chalicelib.core.case import OutgoingMessage, Status
from chalicelib.core.consultation import MAX_EMAIL, MAX_MESSAGE
from chalicelib.core.errors import CaseNotFound, FieldError, LinkAlreadyUsed, VersionConflict
from chalicelib.core.messages import field_error
from chalicelib.core.ports import CaseChanges, Desk
from chalicelib.core.privacy import requester_digest
from chalicelib.core.receipt import is_valid_receipt_number
from chalicelib.core.text import PHONE_SEPARATORS, TextError, normalize_long, normalize_short
from chalicelib.core.timefmt import iso
from chalicelib.requester.view import PageView, page_view, requester_status

# Statuses whose requester gets no mail from a lookup: kept apart, or discarded as spam.
NO_MAIL = frozenset({Status.SUSPECTED_SPAM, Status.SPAM})
MAX_REASON = MAX_NOTE


class CaseReader(CaseChanges, Protocol):
    def case_items(
        self, receipt_number: str, now_epoch: int | None = None
    ) -> list[dict[str, Any]]: ...


class RequesterWrites(Protocol):
    def add_to_case(
        self,
        receipt_number: str,
        *,
        event: dict[str, Any],
        messages: list[OutgoingMessage],
        link_use: dict[str, Any],
        case_expires_at: int,
        mail_expires_at: int,
    ) -> None: ...

    def send_page_link(
        self,
        receipt_number: str,
        *,
        event: dict[str, Any],
        message: OutgoingMessage,
        case_expires_at: int,
        mail_expires_at: int,
    ) -> None: ...

    def count_lookup(
        self, digests: list[str], hour: str, *, limit: int, expires_at: int
    ) -> None: ...


class InputInvalid(Exception):
    """What the requester typed needs fixing; carries one error per field, nothing stored."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(",".join(e.field for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class OpenPage:
    page: requesterlink.PageClaim
    case: dict[str, Any]
    view: PageView

    def action_token(self, desk: Desk, action: str) -> str:
        return requesterlink.action_token(
            desk.settings,
            receipt_number=self.page.receipt_number,
            email=str(self.case["email"]),
            action=action,
            now=desk.now,
        )


def _case_for(
    token: str, store: CaseChanges, desk: Desk
) -> tuple[requesterlink.PageClaim, dict[str, Any]]:
    """The case a page token opens; raises TokenRefused (bad, expired, not this requester's)
    or CaseNotFound."""
    page = requesterlink.read_page_token(token, desk.settings, desk.now)
    case = store.get_case(page.receipt_number, int(desk.now.timestamp()))
    if case is None:
        raise CaseNotFound()
    if not page.is_for(case.get("email")):
        # Signed for another address, or the requester's data was erased since.
        raise TokenRefused(TokenProblem.WRONG_PURPOSE)
    return page, case


def open_page(token: str, *, store: CaseReader, roster: Roster, desk: Desk) -> OpenPage:
    """Everything the page shows; reads only."""
    page, case = _case_for(token, store, desk)
    items = store.case_items(page.receipt_number, int(desk.now.timestamp()))
    events = [item for item in items if item.get("kind") == "event"]
    expert = None
    if case.get("expert_id"):
        found = roster.get(str(case["expert_id"]))
        if found is not None:
            expert = {
                "display_name": found.display_name,
                "organization": found.organization or "",
            }
    view = page_view(
        case,
        events,
        expert=expert,
        max_sessions=desk.settings.max_sessions,
        contact_days=desk.deployment.expected_contact_business_days,
        idle_days=desk.settings.reminder_idle_business_days,
        now=desk.now,
    )
    return OpenPage(page, case, view)


def status_now(token: str, *, store: CaseChanges, desk: Desk) -> str:
    """Where the page's case stands, in the requester's status words (requester/view.py)."""
    _, case = _case_for(token, store, desk)
    return requester_status(str(case["status"]))


def clean_long(value: str, field: str, max_length: int, *, required: bool) -> str:
    """Long text as the form's message field takes it (NFC, line ends, limits); raises
    InputInvalid with the catalogue's message for `field`."""
    try:
        cleaned = normalize_long(value, max_length=max_length)
    except TextError as exc:
        raise InputInvalid([field_error(field, exc.code, (field,), **exc.params)]) from None
    if required and not cleaned:
        raise InputInvalid([field_error(field, "missing")])
    return cleaned


def _link_use(claim: ActionClaim, action: str, desk: Desk) -> dict[str, Any]:
    return {
        "unique_id": requesterlink.use_id(claim),
        "action": action,
        "actor": REQUESTER,
        "at": iso(desk.now),
        "expires_at": claim.expires_at + 86_400,
    }


def _staff_of(case: dict[str, Any], desk: Desk) -> tuple[str, ...]:
    owner = case.get("owner")
    return (owner,) if isinstance(owner, str) and owner else desk.staff.notify_to


def addition_messages(
    case: dict[str, Any], text: str, staff: tuple[str, ...]
) -> list[OutgoingMessage]:
    """The staff's mail about an addition, one per address, answerable like other case mail."""
    summary = {
        key: case[key]
        for key in ("receipt_number", "status", "name", "organization", "created_at")
        if key in case
    }
    return [
        OutgoingMessage(
            template="requester_addition_staff",
            to=(address,),
            context={"case": summary, "text": text, "recipient": address, "replyable": True},
        )
        for address in staff
    ]


def page_link_message(case: dict[str, Any]) -> OutgoingMessage:
    """The page link mailed again to the case's own address (the outbox signs the link)."""
    keep = ("receipt_number", "name", "email", "language", "created_at", "expires_at")
    return OutgoingMessage(
        template="requester_page_link",
        to=(str(case["email"]),),
        context={"case": {key: case[key] for key in keep if key in case}, "requester_page": True},
    )


def add_information(
    token: str,
    action_token: str,
    text: str,
    *,
    store: CaseChanges,
    writes: RequesterWrites,
    desk: Desk,
) -> dict[str, Any]:
    """Add the requester's text to the case timeline and mail the staff, once per action
    token. Returns the case. Raises TokenRefused, CaseNotFound, InputInvalid, CaseNotOpen,
    LinkAlreadyUsed or StoreBusy; nothing is written on any of them."""
    page, case = _case_for(token, store, desk)
    claim = requesterlink.read_action_token(
        action_token, desk.settings, desk.now, page=page, action=requesterlink.ADD
    )
    used = store.link_use(requesterlink.use_id(claim))
    if used is not None:
        raise LinkAlreadyUsed(used)
    cleaned = clean_long(text, "addition", MAX_MESSAGE, required=True)
    at = iso(desk.now)
    event = {
        "at": at,
        "event_id": uuid.uuid4().hex[:12],
        "type": "requester_addition",
        "actor": REQUESTER,
        "channel": REQUESTER,
        "from_status": case["status"],
        "to_status": case["status"],
        "text": cleaned,
    }
    messages = addition_messages(case, cleaned, _staff_of(case, desk))
    writes.add_to_case(
        page.receipt_number,
        event=event,
        messages=messages,
        link_use=_link_use(claim, requesterlink.ADD, desk),
        case_expires_at=int(case["expires_at"]),
        mail_expires_at=desk.settings.retention().mail_expiry(int(desk.now.timestamp())),
    )
    return case


def check_withdrawal(token: str, *, store: CaseChanges, desk: Desk) -> dict[str, Any]:
    """The case a withdrawal page is about; raises like `open_page`, or IllegalTransition when
    the case can no longer be withdrawn (the confirmation page then says so)."""
    _, case = _case_for(token, store, desk)
    lifecycle.apply_to_case(lifecycle.Action.WITHDRAW, case)
    return case


def withdraw(
    token: str,
    action_token: str,
    reason: str,
    *,
    store: CaseChanges,
    roster: Roster,
    desk: Desk,
) -> ActionDone:
    """Withdraw the case through the one decision (core/acting.py, channel "requester"): the
    staff and every expert involved are told, the counters count it, reminders stop (the
    case is no longer open). Raises TokenRefused, CaseNotFound, InputInvalid,
    IllegalTransition, LinkAlreadyUsed, VersionConflict or StoreBusy."""
    page, case = _case_for(token, store, desk)
    claim = requesterlink.read_action_token(
        action_token, desk.settings, desk.now, page=page, action=requesterlink.WITHDRAW
    )
    used = store.link_use(requesterlink.use_id(claim))
    if used is not None:
        # Pressed before: say what the first press did, before judging the case as it is now.
        raise LinkAlreadyUsed(used)
    cleaned = clean_long(reason, "withdraw_reason", MAX_REASON, required=False)
    act = Act(lifecycle.Action.WITHDRAW, REQUESTER, REQUESTER, note=cleaned)
    for attempt in range(2):
        try:
            return perform(
                act,
                case,
                store=store,
                roster=roster,
                desk=desk,
                link_use=_link_use(claim, requesterlink.WITHDRAW, desk),
            )
        except VersionConflict:
            # Staff acted in between: decide again on the case as it is now (once).
            fresh = store.get_case(page.receipt_number, int(desk.now.timestamp()))
            if fresh is None or attempt:
                raise
            case = fresh
    raise AssertionError("unreachable")


_RECEIPT_SHAPE = re.compile(r"^DX-?(\d{6})-?(\d{6})$")


def clean_receipt(value: str) -> str:
    """A receipt number as people type it (full-width, lower case, any dash, spaces) in its
    stored form; raises InputInvalid."""
    try:
        text = normalize_short(value, max_length=40)
    except TextError as exc:
        raise InputInvalid(
            [field_error("receipt_number", exc.code, ("receipt_number",), **exc.params)]
        ) from None
    if not text:
        raise InputInvalid([field_error("receipt_number", "missing")])
    compact = "".join("-" if ch in PHONE_SEPARATORS - {" ", "\u3000"} else ch for ch in text)
    compact = compact.replace(" ", "").upper()
    match = _RECEIPT_SHAPE.match(compact)
    candidate = f"DX-{match.group(1)}-{match.group(2)}" if match else ""
    if not is_valid_receipt_number(candidate):
        raise InputInvalid([field_error("receipt_number", "invalid_receipt")])
    return candidate


def clean_address(value: str) -> str:
    try:
        text = normalize_short(value, max_length=MAX_EMAIL)
    except TextError as exc:
        raise InputInvalid([field_error("email", exc.code, ("email",), **exc.params)]) from None
    if not text:
        raise InputInvalid([field_error("email", "missing")])
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain:
        raise InputInvalid([field_error("email", "invalid_email")])
    return text


def _window(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]


def lookup(
    receipt_number: str,
    email: str,
    *,
    client_id: str | None,
    store: CaseChanges,
    writes: RequesterWrites,
    desk: Desk,
) -> None:
    """Mail the page link to the case's own address when the pair matches; say nothing about
    whether it did (the caller answers the same either way).

    Counted per client and per address for the hour before the case is read, so the limit
    answers alike for pairs that match and pairs that do not. Raises InputInvalid (the shape
    of what was typed, never whether it matched), RateLimited or StoreBusy."""
    errors: list[FieldError] = []
    receipt = address = ""
    try:
        receipt = clean_receipt(receipt_number)
    except InputInvalid as exc:
        errors += exc.errors
    try:
        address = clean_address(email)
    except InputInvalid as exc:
        errors += exc.errors
    if errors:
        raise InputInvalid(errors)
    now = desk.now
    hour = now.strftime("%Y%m%d%H")
    windows = [_window("lookup-address", requester_digest(address), hour)]
    if client_id:
        windows.append(_window("lookup-client", client_id, hour))
    writes.count_lookup(
        windows,
        hour,
        limit=desk.settings.lookup_limit_per_hour,
        expires_at=int(now.timestamp()) + 2 * 3600,
    )
    case = store.get_case(receipt, int(now.timestamp()))
    if case is None or Status(case["status"]) in NO_MAIL or case.get("anonymised_at"):
        return
    stored = case.get("email")
    if not isinstance(stored, str) or requester_digest(stored) != requester_digest(address):
        return
    writes.send_page_link(
        receipt,
        event={
            "at": iso(now),
            "event_id": uuid.uuid4().hex[:12],
            "type": "requester_link_sent",
            "actor": REQUESTER,
            "channel": REQUESTER,
        },
        message=page_link_message(case),
        case_expires_at=int(case["expires_at"]),
        mail_expires_at=desk.settings.retention().mail_expiry(int(now.timestamp())),
    )
