"""Use case: a requester submits a consultation."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core import case as case_rules
from chalicelib.core.choices import ChoiceCheck
from chalicelib.core.consultation import parse_consultation
from chalicelib.core.errors import (
    ChoicesChanged,
    DuplicateSubmission,
    ReceiptNumberTaken,
    StoreBusy,
)
from chalicelib.core.ports import Desk, IntakeDesk
from chalicelib.core.receipt import new_receipt_number

# A drawn receipt number that exists already is drawn again; conflicts with a
# concurrent transaction on the same counter shard are retried after a pause.
MAX_ATTEMPTS = 4


class CaseWriter(Protocol):
    def create_case(
        self,
        case: dict[str, Any],
        messages: list[case_rules.OutgoingMessage],
        *,
        claims: list[case_rules.IdempotencyClaim],
        counters: dict[str, int],
        rate: case_rules.RateWindow | None,
        now_epoch: int,
        mail_expires_at: int,
        choices: ChoiceCheck | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class SubmitResult:
    receipt_number: str
    status: str
    replayed: bool


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:40]


def submit_consultation(
    data: Any,
    *,
    store: CaseWriter,
    desk: IntakeDesk | Desk,
    channel: str,
    idempotency_key: str | None = None,
    client_id: str | None = None,
    draw_receipt: Callable[[datetime], str] = new_receipt_number,
    sleep: Callable[[float], None] = time.sleep,
    form_token: str | None = None,
    held: bool = False,
    language: str = "ja",
) -> SubmitResult:
    """Validate, then store the case with its mail in one write, reading nothing first.

    `desk`: an IntakeDesk (the routes) or a Desk; both carry the settings, the deployment
    and now. With an IntakeDesk the write also checks the chosen category and support
    types against the stored taxonomy (core/choices.py); only when that check fails is
    the taxonomy read, to name the field at fault (InvalidSubmission) or, when the ids
    are valid after all, to write again on the version read. A Desk's deployment
    carries the taxonomy already; the desk's staff are addressed when the mail is sent.

    `form_token`: the form's render token, claimed in the same write so that
    one rendered form stores one case (FormTokenUsed for a different second
    one). `language` (ja, en, easy): what the requester read the form in; their
    mail comes in it first. `held`: the honeypot was filled; the case is kept as suspected spam,
    sends no mail and counts nowhere until staff release it.

    Raises InvalidSubmission, IdempotencyKeyReused, FormTokenUsed, RateLimited
    or StoreBusy. A repeat of an earlier submission returns the first receipt
    number and the status it was stored with.
    """
    settings, deployment, now = desk.settings, desk.deployment, desk.now
    in_store = isinstance(desk, IntakeDesk) and not desk.taxonomy_applied
    consultation = parse_consultation(data, deployment, taxonomy_in_store=in_store)
    choices = None
    if isinstance(desk, IntakeDesk):
        choices = ChoiceCheck.of(
            consultation.category,
            consultation.support_types,
            active_categories=desk.deployment.active_categories(),
            active_support_types=desk.deployment.active_support_types(),
        )
    raw_name = data.get("name") if isinstance(data.get("name"), str) else None
    fingerprint = case_rules.fingerprint(consultation)
    now_epoch = int(now.timestamp())

    claims = [
        case_rules.IdempotencyClaim(
            kind="payload",
            digest=fingerprint[:40],
            fingerprint=fingerprint,
            expires_at=now_epoch + settings.replay_window_seconds,
        )
    ]
    if idempotency_key is not None:
        claims.append(
            case_rules.IdempotencyClaim(
                kind="key",
                digest=_digest(idempotency_key),
                fingerprint=fingerprint,
                expires_at=now_epoch + settings.idempotency_key_ttl_seconds,
            )
        )
    if form_token is not None:
        # Last: a repeat of the same content is a replay (above), not a reuse.
        claims.append(
            case_rules.IdempotencyClaim(
                kind="form",
                digest=_digest(form_token),
                fingerprint=fingerprint,
                expires_at=now_epoch + settings.form_max_age_seconds,
            )
        )
    rate = None
    if client_id:
        hour = now.strftime("%Y%m%d%H")
        rate = case_rules.RateWindow(
            client_digest=_digest(client_id, hour),
            hour=hour,
            limit=settings.rate_limit_per_hour,
            expires_at=now_epoch + 2 * 3600,
        )

    for attempt in range(MAX_ATTEMPTS):
        receipt_number = draw_receipt(now)
        case = case_rules.new_case(
            consultation,
            receipt_number=receipt_number,
            now=now,
            channel=channel,
            privacy_notice_version=deployment.privacy_notice_version,
            raw_name=raw_name,
            retention_days=settings.case_retention_days,
            held=held,
            language=language,
        )
        # A held case mails nobody until staff release it (the release sends these).
        messages = [] if held else case_rules.intake_fanout_messages(case)
        try:
            store.create_case(
                case,
                messages,
                claims=claims,
                counters=case_rules.counter_increments(case),
                rate=rate,
                now_epoch=now_epoch,
                mail_expires_at=settings.retention().mail_expiry(now_epoch),
                choices=choices,
            )
        except ChoicesChanged:
            if not isinstance(desk, IntakeDesk) or choices is None or attempt == MAX_ATTEMPTS - 1:
                raise StoreBusy("taxonomy check failed after retries") from None
            # Read the taxonomy in force and validate against it: InvalidSubmission names
            # the field; if the ids are valid (the taxonomy just changed, or its item predates
            # the active-id attributes), write again on the version that was read.
            fresh, version = desk.reread()
            parse_consultation(data, fresh)
            choices = choices.at_version(version)
            continue
        except DuplicateSubmission as dup:
            return SubmitResult(dup.receipt_number, dup.status, True)
        except ReceiptNumberTaken:
            continue
        except StoreBusy:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            sleep(0.05 * (2**attempt) * (1 + secrets.randbelow(100) / 100))
            continue
        return SubmitResult(receipt_number, case["status"], False)
    raise StoreBusy("no free receipt number after retries")
