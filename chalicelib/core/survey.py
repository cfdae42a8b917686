"""The satisfaction survey and the three-month follow-up (pure): the questions, what a case's
end opens, the answers, their signed links, the anonymous counters and the report's figures.

A case that ends as 完了 (closed) or 他機関紹介 (referred) sends the requester a closing
mail with a signed survey link, and opens a survey record beside the case
(storage/keys.py `survey_key`: under the case, erased with it). The answer is stored
once on that record (the free comment, for staff) and counted, in the same
transaction, in the anonymous monthly counters of the case's month (STATS#<month>),
which stay when the case is erased or expires. A 完了 case is asked once more,
three months later, whether its DX effort moved on (FOLLOWUP_*).

Counter names (all under the month the case was received, like every lifecycle count):
- survey:invited[:category:<id>|:expert:<id>]    surveys opened (closing mail written)
- survey:responses[:category:<id>|:expert:<id>]  answers
- survey:satisfaction:<1..5>                     the overall answer's distribution
- survey:satisfied[:category:<id>|:expert:<id>]  answers in the top two (満足度)
- survey:progress:<moved|partly|not>             whether the problem moved forward
- survey:progressed[:category:<id>|:expert:<id>] answers "moved" or "partly" (前進)
- survey:rating:expert:<id>:<1..5>               the optional rating of each expert
- followup:sent, followup:answer:<progressed|some|same>
"""

from __future__ import annotations

import calendar as month_calendar
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.core import actiontoken
from chalicelib.core.case import OutgoingMessage, Status
from chalicelib.core.messages import Text
from chalicelib.core.settings import Settings
from chalicelib.core.text import TextError, normalize_long

# Statuses whose end opens a survey: the desk helped (or pointed the way).
SURVEYED = frozenset({Status.CLOSED, Status.REFERRED})
# Only a case the desk finished itself is asked three months on.
FOLLOWED_UP = frozenset({Status.CLOSED})

SATISFACTION: tuple[tuple[int, Text], ...] = (
    (5, Text("大変満足", "Very satisfied", "とても よかった")),
    (4, Text("満足", "Satisfied", "よかった")),
    (3, Text("どちらともいえない", "Neither", "どちらでもない")),
    (2, Text("不満", "Dissatisfied", "よくなかった")),
    (1, Text("大変不満", "Very dissatisfied", "とても よくなかった")),
)
# 満足度: the share of answers in the top two.
SATISFIED = frozenset({5, 4})
PROGRESS: tuple[tuple[str, Text], ...] = (
    ("moved", Text("前進した", "Yes, it moved forward", "[前|まえ]に [進|すす]んだ")),
    ("partly", Text("一部前進した", "Partly", "すこし [進|すす]んだ")),
    ("not", Text("前進しなかった", "No", "[進|すす]まなかった")),
)
PROGRESSED = frozenset({"moved", "partly"})
FOLLOWUP: tuple[tuple[str, Text], ...] = (
    ("progressed", Text("進んだ", "It moved on", "[進|すす]んだ")),
    ("some", Text("少し進んだ", "It moved on a little", "すこし [進|すす]んだ")),
    ("same", Text("変わらない", "No change", "[変|か]わらない")),
)
FOLLOWUP_MOVED = frozenset({"progressed", "some"})
MAX_COMMENT = 2000

SURVEY_PURPOSE = "survey"
FOLLOWUP_PURPOSE = "followup"  # followup:<answer>
# A follow-up not sent within this many days of its due day is not sent at all (a
# switched-on setting or a long outage never mails people closed long ago).
FOLLOWUP_GRACE_DAYS = 30


class SurveyInputInvalid(ValueError):
    """An answer with a missing or malformed field; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, Text]) -> None:
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


class SurveyAnswered(Exception):
    """The survey (or the follow-up) was answered before; `same` when with this very answer
    (a double press), so the page can thank rather than refuse."""

    def __init__(self, same: bool) -> None:
        super().__init__("answered")
        self.same = same


class SurveyUnavailable(Exception):
    """No survey for this link: the case is gone, erased, or was never surveyed."""


@dataclass(frozen=True)
class Opening:
    """What a case's end writes beside it: the survey record and the counters it opens."""

    item: dict[str, Any]
    counters: dict[str, int]


def _experts(case: Mapping[str, Any]) -> list[str]:
    """The experts the requester consulted (the one who accepted the case, if any)."""
    expert = case.get("expert_id")
    return [str(expert)] if expert else []


def ends_surveyed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """True when this change ends the case as 完了 or 他機関紹介 with a requester to ask."""
    old, new = str(before.get("status")), str(after.get("status"))
    return (
        new in SURVEYED
        and old not in SURVEYED
        and bool(after.get("email"))
        and not after.get("anonymised_at")
    )


def opening(before: Mapping[str, Any], after: Mapping[str, Any], at: str) -> Opening | None:
    """The survey record and the counters of a case ending now (None: no survey)."""
    if not ends_surveyed(before, after):
        return None
    category = str(after.get("category") or "")
    experts = _experts(after)
    item: dict[str, Any] = {
        "kind": "survey",
        "receipt_number": after["receipt_number"],
        "month": after["month"],
        "category": category,
        "experts": experts,
        "outcome_status": str(after["status"]),
        "ended_at": at,
        "followup_due": str(after["status"]) in FOLLOWED_UP,
        "retention_class": "case",
        "expires_at": int(after["expires_at"]),
    }
    return Opening(item=item, counters=_by_dimension("survey:invited", category, experts))


def _by_dimension(name: str, category: str, experts: list[str]) -> dict[str, int]:
    counters = {name: 1}
    if category:
        counters[f"{name}:category:{category}"] = 1
    for expert in experts:
        counters[f"{name}:expert:{expert}"] = 1
    return counters


# What the requester's survey mail shows of the case (the outbox keeps no more than it needs).
MAIL_FIELDS = ("receipt_number", "name", "language", "status", "outcome")


def _mail_case(case: Mapping[str, Any]) -> dict[str, Any]:
    return {name: case[name] for name in MAIL_FIELDS if case.get(name) is not None}


def closing_messages(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[OutgoingMessage]:
    """The closing mail to the requester, with the survey link (signed when it is sent)."""
    if not ends_surveyed(before, after):
        return []
    address = str(after["email"])
    return [
        OutgoingMessage(
            template="case_closed_requester",
            to=(address,),
            context={"case": _mail_case(after), "recipient": address, "survey_link": True},
        )
    ]


# -- answers -----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    satisfaction: int
    progress: str
    comment: str = ""
    ratings: dict[str, int] = field(default_factory=dict)

    def digest(self) -> str:
        """Equal for the same answer (a double press), different for any other."""
        canonical = json.dumps(
            [self.satisfaction, self.progress, self.comment, sorted(self.ratings.items())],
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


REQUIRED_CHOICE = Text(
    "選んでください。",
    "Please choose one.",
    "ひとつ [選|えら]んで ください。",
)


def parse_answer(form: Mapping[str, str], experts: list[str]) -> Answer:
    """The answer a posted form gives; raises SurveyInputInvalid naming each field."""
    errors: dict[str, Text] = {}
    scale = {str(value) for value, _ in SATISFACTION}
    satisfaction = form.get("satisfaction", "").strip()
    if satisfaction not in scale:
        errors["satisfaction"] = REQUIRED_CHOICE
    progress = form.get("progress", "").strip()
    if progress not in {value for value, _ in PROGRESS}:
        errors["progress"] = REQUIRED_CHOICE
    comment = ""
    try:
        comment = normalize_long(form.get("comment", ""), max_length=MAX_COMMENT)
    except TextError as exc:
        errors["comment"] = (
            Text(
                f"{MAX_COMMENT}文字以内でお書きください。",
                f"Please keep it within {MAX_COMMENT} characters.",
                f"{MAX_COMMENT}[文字|もじ]までに して ください。",
            )
            if exc.code == "too_long"
            else Text(
                "使えない文字が含まれています。その文字を消してください。",
                "Please remove the characters that cannot be used.",
                "[使|つか]えない [文字|もじ]が あります。[消|け]して ください。",
            )
        )
    ratings: dict[str, int] = {}
    for expert in experts:
        given = form.get(f"rating_{expert}", "").strip()
        if not given:
            continue  # optional
        if given not in scale:
            errors[f"rating_{expert}"] = REQUIRED_CHOICE
        else:
            ratings[expert] = int(given)
    if errors:
        raise SurveyInputInvalid(errors)
    return Answer(int(satisfaction), progress, comment, ratings)


def answer_counters(survey: Mapping[str, Any], answer: Answer) -> dict[str, int]:
    """What one answer adds to the anonymous counters of the case's month."""
    category = str(survey.get("category") or "")
    experts = [str(e) for e in survey.get("experts") or []]
    counters = _by_dimension("survey:responses", category, experts)
    counters[f"survey:satisfaction:{answer.satisfaction}"] = 1
    counters[f"survey:progress:{answer.progress}"] = 1
    if answer.satisfaction in SATISFIED:
        counters |= _by_dimension("survey:satisfied", category, experts)
    if answer.progress in PROGRESSED:
        counters |= _by_dimension("survey:progressed", category, experts)
    for expert, rating in answer.ratings.items():
        counters[f"survey:rating:expert:{expert}:{rating}"] = 1
    return counters


def answer_event(answer: Answer, at: str, event_id: str) -> dict[str, Any]:
    """The timeline entry of an answer (the audit of it): the choices, never the comment."""
    event: dict[str, Any] = {
        "at": at,
        "event_id": event_id,
        "type": "survey_answered",
        "actor": "requester",
        "channel": "survey",
        "satisfaction": answer.satisfaction,
        "progress": answer.progress,
        "commented": bool(answer.comment),
    }
    if answer.ratings:
        event["ratings"] = dict(answer.ratings)
    return event


def followup_event(choice: str, at: str, event_id: str) -> dict[str, Any]:
    return {
        "at": at,
        "event_id": event_id,
        "type": "followup_answered",
        "actor": "requester",
        "channel": "survey",
        "followup": choice,
    }


def needs_staff_attention(answer: Answer) -> bool:
    """Staff are mailed an answer with a comment, or a dissatisfied one (to follow it up)."""
    return bool(answer.comment) or answer.satisfaction not in SATISFIED | {3}


def staff_messages(
    case: Mapping[str, Any],
    survey: Mapping[str, Any],
    answer: Answer,
    staff_notify_to: tuple[str, ...],
) -> list[OutgoingMessage]:
    """The answer to the case's owner (else the desk), threaded with the case; none when
    there is nothing for staff to read."""
    if not needs_staff_attention(answer):
        return []
    owner = case.get("owner")
    recipients = (str(owner),) if owner else staff_notify_to
    context = {
        "case": {k: case[k] for k in ("receipt_number", "status", "category") if k in case},
        "answer": {
            "satisfaction": answer.satisfaction,
            "progress": answer.progress,
            "comment": answer.comment,
            "ratings": dict(answer.ratings),
        },
        "experts": list(survey.get("experts") or []),
    }
    return [
        OutgoingMessage(
            template="survey_answer_staff",
            to=(address,),
            context={**context, "recipient": address},
        )
        for address in recipients
    ]


def parse_followup(value: str) -> str:
    if value not in {choice for choice, _ in FOLLOWUP}:
        raise SurveyInputInvalid({"followup": REQUIRED_CHOICE})
    return value


def followup_counters(choice: str) -> dict[str, int]:
    return {"followup:answered": 1, f"followup:answer:{choice}": 1}


# -- signed links ------------------------------------------------------------


def _sign(
    settings: Settings, purpose: str, receipt_number: str, recipient: str, now: datetime
) -> str:
    key_id, keys = settings.link_keys()
    return actiontoken.sign(
        keys,
        key_id,
        purpose=purpose,
        receipt_number=receipt_number,
        recipient=actiontoken.recipient_id(recipient, keys[key_id]),
        expires_at=int((now + timedelta(days=settings.survey_link_ttl_days)).timestamp()),
    )


def survey_url(settings: Settings, receipt_number: str, recipient: str, now: datetime) -> str:
    token = _sign(settings, SURVEY_PURPOSE, receipt_number, recipient, now)
    return f"{settings.base_url()}/survey/{token}"


def followup_url(
    settings: Settings, receipt_number: str, recipient: str, choice: str, now: datetime
) -> str:
    token = _sign(settings, f"{FOLLOWUP_PURPOSE}:{choice}", receipt_number, recipient, now)
    return f"{settings.base_url()}/followup/{token}"


def signed_links(
    context: Mapping[str, Any], receipt_number: str, settings: Settings, now: datetime
) -> dict[str, Any]:
    """The survey and follow-up links a requester's mail offers, signed as it is sent (so
    no usable link is ever stored); {} for every other mail."""
    found: dict[str, Any] = {}
    recipient = context.get("recipient")
    if not isinstance(recipient, str):
        return found
    if context.get("survey_link"):
        found["survey_url"] = survey_url(settings, receipt_number, recipient, now)
    if context.get("followup_links"):
        found["followup_urls"] = [
            {"choice": choice, "label": label.ja, "label_en": label.en, "url": url}
            for choice, label in FOLLOWUP
            for url in [followup_url(settings, receipt_number, recipient, choice, now)]
        ]
    return found


@dataclass(frozen=True)
class SurveyClaim:
    receipt_number: str
    recipient: str  # the recipient id the token is bound to
    key_id: str
    followup: str | None  # the follow-up answer a follow-up link carries


def read_token(token: str, settings: Settings, now: datetime, *, followup: bool) -> SurveyClaim:
    """The claim of a survey (or follow-up) link; raises actiontoken.TokenRefused."""
    _, keys = settings.link_keys()
    claim = actiontoken.verify(token, keys, now=int(now.timestamp()))
    purpose, _, choice = claim.purpose.partition(":")
    if followup:
        if purpose != FOLLOWUP_PURPOSE or choice not in {c for c, _ in FOLLOWUP}:
            raise actiontoken.TokenRefused(actiontoken.TokenProblem.WRONG_PURPOSE)
    elif claim.purpose != SURVEY_PURPOSE:
        raise actiontoken.TokenRefused(actiontoken.TokenProblem.WRONG_PURPOSE)
    return SurveyClaim(claim.receipt_number, claim.recipient, claim.key_id, choice or None)


def is_recipient(claim: SurveyClaim, case: Mapping[str, Any], settings: Settings) -> bool:
    """The link was made for the case's requester (an erased case has no one to match)."""
    email = case.get("email")
    if not isinstance(email, str) or not email or case.get("anonymised_at"):
        return False
    _, keys = settings.link_keys()
    secret = keys.get(claim.key_id)
    return secret is not None and actiontoken.recipient_id(email, secret) == claim.recipient


# -- scheduling ----------------------------------------------------------------


def reminder_cutoff(today: date, business_days: int) -> date:
    """The latest day a case may have ended on to be reminded today: at least
    `business_days` business days have passed since it."""
    # Imported here: the intake and outbox paths import this module and never need the
    # holiday calendar (cold start).
    from chalicelib.core.calendar import business_days_between

    day = today
    while business_days_between(day, today) < business_days:
        day -= timedelta(days=1)
    return day


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day if it has none)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = month_calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def followup_window(today: date, months: int) -> tuple[date, date]:
    """(first, last) day a case may have closed on to be followed up today."""
    last = months_before(today, months)
    return last - timedelta(days=FOLLOWUP_GRACE_DAYS), last


def reminder_messages(case: Mapping[str, Any]) -> list[OutgoingMessage]:
    """The one reminder of an unanswered survey (its id makes a second run a no-op)."""
    address = str(case["email"])
    return [
        OutgoingMessage(
            template="survey_reminder",
            to=(address,),
            context={"case": _mail_case(case), "recipient": address, "survey_link": True},
            message_id=f"survey-reminder-{case['receipt_number']}",
        )
    ]


def followup_messages(case: Mapping[str, Any]) -> list[OutgoingMessage]:
    address = str(case["email"])
    return [
        OutgoingMessage(
            template="followup_request",
            to=(address,),
            context={"case": _mail_case(case), "recipient": address, "followup_links": True},
            message_id=f"followup-{case['receipt_number']}",
        )
    ]


# -- figures -------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _group(counters: Mapping[str, int], dimension: str, item_id: str) -> dict[str, Any]:
    suffix = f":{dimension}:{item_id}"
    invited = int(counters.get(f"survey:invited{suffix}", 0))
    responses = int(counters.get(f"survey:responses{suffix}", 0))
    satisfied = int(counters.get(f"survey:satisfied{suffix}", 0))
    progressed = int(counters.get(f"survey:progressed{suffix}", 0))
    return {
        "id": item_id,
        "invited": invited,
        "responses": responses,
        "response_rate": _rate(responses, invited),
        "satisfied": satisfied,
        "satisfaction_rate": _rate(satisfied, responses),
        "progressed": progressed,
        "progress_rate": _rate(progressed, responses),
    }


def satisfaction_by_month(
    counters: Mapping[str, Mapping[str, Any]],
) -> dict[str, tuple[int, int]]:
    """{month: (answers in the top two, answers)} for the report's satisfaction chart, from
    each month's counters; months without an answer are left out (the chart shows a gap)."""
    found = {}
    for month, counted in counters.items():
        responses = int(counted.get("survey:responses", 0))
        if responses:
            found[month] = (int(counted.get("survey:satisfied", 0)), responses)
    return found


def _ids(counters: Mapping[str, int], dimension: str) -> list[str]:
    found = set()
    marker = f":{dimension}:"
    for name in counters:
        if name.startswith("survey:") and marker in name:
            rest = name.split(marker, 1)[1]
            found.add(rest.split(":", 1)[0])
    return sorted(found)


def figures(
    counters: Mapping[str, int],
    *,
    categories: Mapping[str, Any] | None = None,
    experts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The survey and follow-up figures of a month, from its counters only (no personal data,
    no comments): responses, response rate, 満足度 (top two), 前進 rate; by category and
    by expert (ids with the labels given)."""
    invited = int(counters.get("survey:invited", 0))
    responses = int(counters.get("survey:responses", 0))
    satisfied = int(counters.get("survey:satisfied", 0))
    progressed = int(counters.get("survey:progressed", 0))
    category_labels = categories or {}
    expert_names = experts or {}
    by_category = []
    for item_id in _ids(counters, "category"):
        row = _group(counters, "category", item_id)
        label = category_labels.get(item_id)
        row["label"] = getattr(label, "ja", None) or item_id
        by_category.append(row)
    by_expert = []
    for item_id in _ids(counters, "expert"):
        row = _group(counters, "expert", item_id)
        row["label"] = expert_names.get(item_id, item_id)
        ratings = {
            value: int(counters.get(f"survey:rating:expert:{item_id}:{value}", 0))
            for value, _ in SATISFACTION
        }
        rated = sum(ratings.values())
        row["rated"] = rated
        row["rating_average"] = (
            round(sum(v * n for v, n in ratings.items()) / rated, 2) if rated else None
        )
        by_expert.append(row)
    followup_sent = int(counters.get("followup:sent", 0))
    followup_answered = int(counters.get("followup:answered", 0))
    followup_moved = sum(int(counters.get(f"followup:answer:{c}", 0)) for c in FOLLOWUP_MOVED)
    return {
        "invited": invited,
        "responses": responses,
        "response_rate": _rate(responses, invited),
        "satisfied": satisfied,
        "satisfaction_rate": _rate(satisfied, responses),
        "progressed": progressed,
        "progress_rate": _rate(progressed, responses),
        "satisfaction": [
            {
                "value": value,
                "label": label.ja,
                "label_en": label.en,
                "count": int(counters.get(f"survey:satisfaction:{value}", 0)),
            }
            for value, label in SATISFACTION
        ],
        "progress": [
            {
                "value": value,
                "label": label.ja,
                "label_en": label.en,
                "count": int(counters.get(f"survey:progress:{value}", 0)),
            }
            for value, label in PROGRESS
        ],
        "by_category": by_category,
        "by_expert": by_expert,
        "followup": {
            "sent": followup_sent,
            "answered": followup_answered,
            "response_rate": _rate(followup_answered, followup_sent),
            "moved": followup_moved,
            "moved_rate": _rate(followup_moved, followup_answered),
            "answers": [
                {
                    "value": choice,
                    "label": label.ja,
                    "label_en": label.en,
                    "count": int(counters.get(f"followup:answer:{choice}", 0)),
                }
                for choice, label in FOLLOWUP
            ],
        },
    }
