"""The expert roster and matching a case to experts (pure: plain values in, a ranked list out).

Who may be suggested (hard rules; a failing expert lands in `excluded` with
its reason, the first that applies in this order):
1. inactive experts;
2. a conflict of interest: an entry of `conflicts` equals the case's
   municipality id, or (NFKC, case- and space-insensitive) occurs in the
   requester's organisation name ("サンプル商事" catches "株式会社サンプル商事");
   a false alarm costs a look, a miss costs trust;
3. experts at capacity: open cases (`load`) >= `capacity`;
4. the format: "online" needs `online_ok`; "visit" needs the case's
   municipality in `areas` (an empty `areas` means anywhere); "either"
   needs one of the two.

How the others rank (score, integer, higher first):
- category fit: +100 when the expert is registered for the case's category,
  so that category fit always ranks first; a case in category "unknown"
  (分野未定) gets no category term for anyone: support types and area decide;
- support types: +20 for each requested support type the expert offers
  (at most +60: never outweighs the category);
- local: +10 when the expert lists the case's municipality in `areas`
  explicitly (someone nearby, who knows the place);
- spare capacity: +10 * (capacity - load) // capacity (+10 with no open
  case, less as cases accrue: a free expert scores above a busy one).
Equal scores: the expert asked least recently first (never asked before
anyone asked; ISO timestamps compare as strings), then expert_id, so the
result is deterministic. Every suggestion carries its reasons in Japanese
and English for the staff mail.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple, Protocol

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from chalicelib.core.taxonomy import ID_PATTERN as TAXONOMY_ID_PATTERN
from chalicelib.core.timefmt import parse_iso

UNKNOWN_CATEGORY = "unknown"

CATEGORY_FIT = 100
SUPPORT_TYPE_FIT = 20
LOCAL = 10
SPARE_CAPACITY = 10

ExpertKind = Literal["advisor", "partner"]
# A support type id of the desk's taxonomy (core/taxonomy.py); which ids exist is
# data, checked against the current taxonomy where experts are registered.
SupportTypeId = Annotated[str, Field(pattern=TAXONOMY_ID_PATTERN)]


def _as_list(value: Any) -> Any:
    # The demo roster (and a hand-written item) may hold one address as a string.
    return [value] if isinstance(value, str) else value


class ExpertProfile(BaseModel):
    """An advisor or partner without their contact addresses: what desk staff read.

    The roster's contact addresses are personal data only admins handle
    (docs/api.md "Roster CSV"); staff reach an expert through the desk's mail.
    """

    # Built on first use: the intake path never reads the roster (cold start).
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    expert_id: Annotated[str, Field(min_length=1, max_length=64)]
    kind: Annotated[ExpertKind, Field(validation_alias=AliasChoices("kind", "role"))]
    display_name: Annotated[
        str, Field(min_length=1, validation_alias=AliasChoices("display_name", "label"))
    ]
    organization: str | None = None
    categories: list[str]
    support_types: list[SupportTypeId]
    # Municipality ids; empty means the expert goes anywhere.
    areas: list[str] = Field(default_factory=list)
    online_ok: bool
    # Open cases at once.
    capacity: Annotated[int, Field(ge=1)]
    active: bool = True
    conflict_notes: str | None = None
    # Organisation names or municipality ids this expert must not be matched with.
    conflicts: list[str] = Field(default_factory=list)


class Expert(ExpertProfile):
    """An advisor or partner as stored (also loads the demo roster's label/role/email shape)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    contact_emails: Annotated[
        list[Annotated[str, Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$")]],
        BeforeValidator(_as_list),
        Field(min_length=1, validation_alias=AliasChoices("contact_emails", "email")),
    ]

    def profile(self) -> ExpertProfile:
        """The expert as staff see it: everything but the contact addresses."""
        return ExpertProfile.model_validate(self.model_dump(exclude={"contact_emails"}))


@dataclass(frozen=True)
class Reason:
    code: str
    ja: str
    en: str


@dataclass(frozen=True)
class Suggestion:
    expert_id: str
    display_name: str
    kind: str
    score: int
    reasons: list[Reason] = field(default_factory=list)


class Excluded(NamedTuple):
    expert_id: str
    reason: Reason


@dataclass(frozen=True)
class MatchResult:
    suggestions: list[Suggestion]
    excluded: list[Excluded]


class LabelLike(Protocol):
    """A (ja, en) label, such as config.Label of the deployment's categories."""

    @property
    def ja(self) -> str: ...

    @property
    def en(self) -> str: ...


def _folded(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _conflict(case: Mapping[str, Any], expert: Expert) -> Reason | None:
    municipality = str(case.get("municipality") or "")
    organization = _folded(str(case.get("organization") or ""))
    for entry in expert.conflicts:
        if municipality and entry.strip() == municipality:
            return Reason(
                "conflict",
                f"利益相反の登録あり（相談者の市町 {municipality}）",
                f"Conflict of interest registered (requester's municipality {municipality})",
            )
        term = _folded(entry)
        if organization and term and term in organization:
            return Reason(
                "conflict",
                f"利益相反の登録あり（相談者の組織「{entry}」）",
                f"Conflict of interest registered (requester's organisation '{entry}')",
            )
    return None


def _exclusion(case: Mapping[str, Any], expert: Expert, load: int) -> Reason | None:
    if not expert.active:
        return Reason("inactive", "休止中", "Inactive")
    conflict = _conflict(case, expert)
    if conflict is not None:
        return conflict
    if load >= expert.capacity:
        return Reason(
            "at_capacity",
            f"担当上限に達している（{load}/{expert.capacity}件）",
            f"At capacity ({load} of {expert.capacity} open cases)",
        )
    preferred = case.get("preferred_format")
    in_area = _in_area(case, expert)
    if preferred == "online" and not expert.online_ok:
        return Reason("no_online", "オンライン非対応", "Does not work online")
    if preferred == "visit" and not in_area:
        return Reason(
            "out_of_area",
            "訪問希望だが相談者の市町が対応地域外",
            "In-person requested, but the requester's municipality is outside the expert's area",
        )
    if preferred == "either" and not (in_area or expert.online_ok):
        return Reason(
            "out_of_reach",
            "対応地域外かつオンライン非対応",
            "Outside the expert's area and does not work online",
        )
    return None


def _in_area(case: Mapping[str, Any], expert: Expert) -> bool:
    return not expert.areas or case.get("municipality") in expert.areas


def _category_reason(
    category: str, expert: Expert, labels: Mapping[str, LabelLike]
) -> tuple[int, Reason]:
    if category == UNKNOWN_CATEGORY:
        return 0, Reason(
            "category_open",
            "分野未定の案件のため、支援内容と地域で選定",
            "The case's category is open: matched on support types and area",
        )
    label = labels.get(category)
    ja, en = (label.ja, label.en) if label is not None else (category, category)
    if category in expert.categories:
        return CATEGORY_FIT, Reason(
            "category_fit",
            f"案件の分野「{ja}」に登録",
            f"Registered for the case's category '{en}'",
        )
    return 0, Reason(
        "category_other", f"案件の分野「{ja}」は登録外", f"Not registered for the category '{en}'"
    )


def _format_reason(case: Mapping[str, Any], expert: Expert) -> Reason:
    preferred = case.get("preferred_format")
    if preferred == "online" or (preferred == "either" and expert.online_ok):
        return Reason("format_online", "オンライン対応可", "Works online")
    if expert.areas:
        return Reason(
            "format_visit",
            "相談者の市町は訪問可能な地域",
            "Can visit the requester's municipality",
        )
    return Reason("format_visit", "訪問可（地域の制限なし）", "Can visit (anywhere)")


def _recency_reason(last: str | None, now: datetime | None) -> Reason:
    if last is None:
        return Reason("recency", "依頼実績なし", "Never asked")
    if now is None:
        return Reason("recency", f"最後の依頼 {last[:10]}", f"Last asked on {last[:10]}")
    days = max((now - parse_iso(last)).days, 0)
    return Reason("recency", f"最後の依頼から{days}日", f"Last asked {days} days ago")


def _score(
    case: Mapping[str, Any],
    expert: Expert,
    load: int,
    last: str | None,
    labels: Mapping[str, LabelLike],
    now: datetime | None,
) -> Suggestion:
    score, category_reason = _category_reason(str(case.get("category", "")), expert, labels)
    reasons = [category_reason]

    requested = list(dict.fromkeys(case.get("support_types") or []))
    offered = [kind for kind in requested if kind in expert.support_types]
    score += SUPPORT_TYPE_FIT * len(offered)
    reasons.append(
        Reason(
            "support_types",
            f"希望する支援{len(requested)}種類のうち{len(offered)}種類に対応",
            f"Offers {len(offered)} of {len(requested)} requested support types",
        )
    )

    reasons.append(_format_reason(case, expert))
    if case.get("municipality") in expert.areas:
        score += LOCAL
        reasons.append(
            Reason("local", "相談者の市町を対応地域に登録", "Lists the requester's municipality")
        )

    score += SPARE_CAPACITY * (expert.capacity - load) // expert.capacity
    reasons.append(
        Reason(
            "load",
            f"担当中 {load}/{expert.capacity}件",
            f"{load} of {expert.capacity} open cases",
        )
    )
    reasons.append(_recency_reason(last, now))
    return Suggestion(expert.expert_id, expert.display_name, expert.kind, score, reasons)


def suggest(
    case: Mapping[str, Any],
    experts: list[Expert],
    load: Mapping[str, int],
    last_asked: Mapping[str, str],
    *,
    limit: int = 5,
    category_labels: Mapping[str, LabelLike] | None = None,
    now: datetime | None = None,
) -> MatchResult:
    """Rank `experts` for `case` (see the module docstring); at most `limit` suggestions.

    `load` and `last_asked` are keyed by expert id (missing: 0 open cases,
    never asked). `category_labels` (the deployment's categories) names the
    category in the reasons; `now` turns the last request into a number of days.
    """
    ranked: list[tuple[int, str, str, Suggestion]] = []
    excluded: list[Excluded] = []
    for expert in experts:
        open_cases = load.get(expert.expert_id, 0)
        reason = _exclusion(case, expert, open_cases)
        if reason is not None:
            excluded.append(Excluded(expert.expert_id, reason))
            continue
        last = last_asked.get(expert.expert_id)
        suggestion = _score(case, expert, open_cases, last, category_labels or {}, now)
        # "" sorts before any timestamp: the never-asked come first among equals.
        ranked.append((-suggestion.score, last or "", expert.expert_id, suggestion))
    ranked.sort(key=lambda entry: entry[:3])
    return MatchResult(
        suggestions=[entry[3] for entry in ranked[: max(limit, 0)]],
        excluded=sorted(excluded, key=lambda entry: entry.expert_id),
    )
