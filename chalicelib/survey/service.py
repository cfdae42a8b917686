"""Use cases: the requester opens and answers the satisfaction survey, and the follow-up.

Links are core/survey.py tokens bound to the purpose, the case and the requester's
address (as a digest), with an expiry. Opening a page (GET, HEAD: mail scanners
too) reads only; an answer is one POST, stored once (storage/survey.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from chalicelib.core import survey as rules
from chalicelib.core.acting import Roster
from chalicelib.core.case import OutgoingMessage
from chalicelib.core.ports import Desk
from chalicelib.core.timefmt import iso


class SurveyRecords(Protocol):
    def get_case(
        self, receipt_number: str, now_epoch: int | None = None
    ) -> dict[str, Any] | None: ...

    def survey(self, receipt_number: str, now_epoch: int) -> dict[str, Any] | None: ...

    def answer(
        self,
        case: dict[str, Any],
        answer: rules.Answer,
        *,
        event: dict[str, Any],
        counters: dict[str, int],
        messages: list[OutgoingMessage],
        mail_expires_at: int,
    ) -> None: ...

    def answer_followup(
        self,
        case: dict[str, Any],
        choice: str,
        *,
        event: dict[str, Any],
        counters: dict[str, int],
    ) -> None: ...


class AnswerInvalid(Exception):
    """An answer with fields to correct; carries the page to show again (nothing stored)."""

    def __init__(self, view: SurveyView, errors: rules.SurveyInputInvalid) -> None:
        super().__init__(str(errors))
        self.view = view
        self.errors = errors.errors


@dataclass(frozen=True)
class SurveyView:
    """What the survey page shows: no personal data beyond the receipt number."""

    receipt_number: str
    language: str
    experts: list[tuple[str, str]]  # (expert id, display name) to rate
    answered: bool
    followup: str | None = None  # the follow-up answer a follow-up link carries
    followup_answered: bool = False


def _load(
    token: str, store: SurveyRecords, desk: Desk, *, followup: bool
) -> tuple[rules.SurveyClaim, dict[str, Any], dict[str, Any]]:
    """The link's claim, case and survey record; raises TokenRefused or SurveyUnavailable."""
    claim = rules.read_token(token, desk.settings, desk.now, followup=followup)
    now_epoch = int(desk.now.timestamp())
    case = store.get_case(claim.receipt_number, now_epoch)
    if case is None or not rules.is_recipient(claim, case, desk.settings):
        raise rules.SurveyUnavailable()
    survey = store.survey(claim.receipt_number, now_epoch)
    if survey is None:
        raise rules.SurveyUnavailable()
    return claim, case, survey


def _view(
    claim: rules.SurveyClaim, case: dict[str, Any], survey: dict[str, Any], roster: Roster
) -> SurveyView:
    experts = []
    for expert_id in survey.get("experts") or []:
        expert = roster.get(str(expert_id))
        experts.append((str(expert_id), expert.display_name if expert else str(expert_id)))
    return SurveyView(
        receipt_number=str(case["receipt_number"]),
        language=str(case.get("language") or "ja"),
        experts=experts,
        answered=bool(survey.get("answered_at")),
        followup=claim.followup,
        followup_answered=bool(survey.get("followup_answered_at")),
    )


def open_survey(token: str, *, store: SurveyRecords, roster: Roster, desk: Desk) -> SurveyView:
    """Everything the survey page shows; changes nothing."""
    claim, case, survey = _load(token, store, desk, followup=False)
    return _view(claim, case, survey, roster)


def answer_survey(
    token: str,
    form: dict[str, str],
    *,
    store: SurveyRecords,
    roster: Roster,
    desk: Desk,
) -> SurveyView:
    """Store the answer once. Raises TokenRefused, SurveyUnavailable, AnswerInvalid
    (nothing stored; the page shows the errors with what was typed) or SurveyAnswered."""
    claim, case, survey = _load(token, store, desk, followup=False)
    view = _view(claim, case, survey, roster)
    if view.answered:
        # Compared with the stored one: a double press of the same answer is thanked.
        try:
            again = rules.parse_answer(form, [e for e, _ in view.experts]).digest()
        except rules.SurveyInputInvalid:
            again = ""
        raise rules.SurveyAnswered(survey.get("answer_digest") == again)
    try:
        answer = rules.parse_answer(form, [e for e, _ in view.experts])
    except rules.SurveyInputInvalid as exc:
        raise AnswerInvalid(view, exc) from None
    at = iso(desk.now)
    settings = desk.settings
    store.answer(
        case,
        answer,
        event=rules.answer_event(answer, at, uuid.uuid4().hex[:12]),
        counters=rules.answer_counters(survey, answer),
        messages=rules.staff_messages(case, survey, answer, desk.staff.notify_to),
        mail_expires_at=int((desk.now + timedelta(days=settings.mail_retention_days)).timestamp()),
    )
    return view


def open_followup(token: str, *, store: SurveyRecords, roster: Roster, desk: Desk) -> SurveyView:
    """The follow-up's confirmation page; changes nothing (mail scanners open links)."""
    claim, case, survey = _load(token, store, desk, followup=True)
    if not survey.get("followup_sent_at"):
        raise rules.SurveyUnavailable()
    return _view(claim, case, survey, roster)


def answer_followup(token: str, *, store: SurveyRecords, roster: Roster, desk: Desk) -> SurveyView:
    """Record the answer the link carries, once (raises as `answer_survey`)."""
    claim, case, survey = _load(token, store, desk, followup=True)
    if not survey.get("followup_sent_at"):
        raise rules.SurveyUnavailable()
    choice = rules.parse_followup(str(claim.followup))
    view = _view(claim, case, survey, roster)
    if view.followup_answered:
        raise rules.SurveyAnswered(survey.get("followup_answer") == choice)
    store.answer_followup(
        case,
        choice,
        event=rules.followup_event(choice, iso(desk.now), uuid.uuid4().hex[:12]),
        counters=rules.followup_counters(choice),
    )
    return view
