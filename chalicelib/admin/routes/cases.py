"""/admin/cases: staff list cases, read one case's history, act on it and see expert suggestions."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib import runtime
from chalicelib.admin.auth import ADMIN_HEADERS, admin_route, ok, parse_body, parse_query
from chalicelib.admin.schemas import ExpertId
from chalicelib.core import case_admin as cases_admin
from chalicelib.core import lifecycle
from chalicelib.core.access import Actor
from chalicelib.core.case import Case, Status
from chalicelib.core.receipt import JST
from chalicelib.http.errors import json_response
from chalicelib.runtime import get_settings

bp = Blueprint(__name__)

# Every Lambda function imports this module and only an admin request uses it:
# the models build their validators on first use (defer_build, cold start).

# Free text staff type: one line or several, no other control characters.
_TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]*$"
_EARLIEST, _LATEST = cases_admin.EARLIEST_DATE, cases_admin.LATEST_DATE


class CaseListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    status: Status | None = None
    category: Annotated[str | None, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None
    date_from: Annotated[date | None, Field(alias="from", ge=_EARLIEST, le=_LATEST)] = None
    date_to: Annotated[date | None, Field(alias="to", ge=_EARLIEST, le=_LATEST)] = None
    order: Literal["newest", "oldest"] = "newest"
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    next: Annotated[str | None, Field(max_length=cases_admin.MAX_CURSOR)] = None


class CaseRow(BaseModel):
    """One case in a list: ids with their labels, no personal data but the organisation."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    receipt_number: str
    status: str
    status_label: str
    status_label_en: str
    category: str
    category_label: str
    category_label_en: str
    requester_type: str
    requester_type_label: str
    requester_type_label_en: str
    municipality: str
    municipality_label: str
    municipality_label_en: str
    support_types: list[str]
    preferred_format: str
    channel: str
    organization: str | None
    owner: str | None
    created_at: str
    updated_at: str
    expert_id: str | None
    asked_experts: list[str]
    sessions_used: int
    max_sessions: int
    version: int


class CasePage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    cases: list[CaseRow]
    count: int
    next: str | None = None


class CaseDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    case: Case
    summary: CaseRow
    timeline: list[dict[str, Any]]
    events: list[dict[str, Any]]
    mails: list[dict[str, Any]]
    assignments: list[dict[str, Any]]
    available_actions: list[dict[str, str]]


class ActionIn(BaseModel):
    """What an action may carry; `version` is the case's version as the caller read it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    version: Annotated[int, Field(ge=1)]
    expert_id: ExpertId | None = None
    owner: Annotated[str | None, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] = None
    note: Annotated[str, Field(max_length=2000, pattern=_TEXT)] = ""
    outcome: Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


class ActionOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    action: str
    changed: bool
    case: CaseRow


class SuggestionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    limit: Annotated[int, Field(ge=1, le=30)] = 5


class SuggestionList(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    receipt_number: str
    suggestions: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    skipped: list[dict[str, Any]]


def _refusal(status: int, code: str, message: str, message_en: str) -> Response:
    body = {"error": code, "message": message, "message_en": message_en}
    return json_response(json.dumps(body, ensure_ascii=False), status, ADMIN_HEADERS)


@admin_route(
    bp,
    "/admin/cases",
    method="GET",
    role="staff",
    summary=(
        "List cases, newest first (filters: status, category, from, to as YYYY-MM-DD in "
        "Japan time; paged with `next`). Without a status the range is at most 24 months "
        "(default: the last 12)."
    ),
    query=CaseListQuery,
    response=CasePage,
)
def list_cases(actor: Actor) -> Response:
    query: CaseListQuery = parse_query(bp.current_request, CaseListQuery)
    now = runtime.now()
    given = cases_admin.CaseFilter(
        status=query.status.value if query.status else None,
        category=query.category,
        date_from=query.date_from,
        date_to=query.date_to,
        newest_first=query.order == "newest",
        limit=query.limit,
    )
    try:
        page = cases_admin.list_cases(
            runtime.case_store(),
            given,
            cursor=query.next,
            today=now.astimezone(JST).date(),
            now_epoch=int(now.timestamp()),
            deployment=runtime.directory().deployment,
            max_sessions=get_settings().max_sessions,
        )
    except cases_admin.InvalidCursor:
        return _refusal(
            400,
            "invalid_cursor",
            "ページの指定（next）が正しくありません。一覧の最初のページから読み直してください。",
            "The 'next' cursor does not belong to this query; start again from the first page.",
        )
    return ok(page)


@admin_route(
    bp,
    "/admin/cases/{receipt_number}",
    method="GET",
    role="staff",
    summary="One case with its whole timeline: events, mail with its state, expert assignments",
    response=CaseDetail,
)
def read_case(actor: Actor, receipt_number: str) -> Response:
    now = runtime.now()
    names = {expert.expert_id: expert.display_name for expert in runtime.roster_store().list_all()}
    detail = cases_admin.case_detail(
        runtime.case_store(),
        receipt_number,
        now_epoch=int(now.timestamp()),
        deployment=runtime.directory().deployment,
        max_sessions=get_settings().max_sessions,
        expert_names=names,
    )
    return ok(detail)


@admin_route(
    bp,
    "/admin/cases/{receipt_number}/actions/{action}",
    method="POST",
    role="staff",
    summary=(
        "Do a lifecycle action (take, start_hearing, start_matching, ask_expert, "
        "expert_accepted, expert_declined, close, refer, withdraw, mark_spam, release: "
        "a suspected-spam case becomes a normal one and sends its mail); the body "
        "carries the case's `version` (409 if it changed), and `expert_id`, `owner`, "
        "`note`, `outcome` where they apply"
    ),
    body=ActionIn,
    response=ActionOut,
)
def act_on_case(actor: Actor, receipt_number: str, action: str) -> Response:
    cases_admin.admin_action(action)  # an unknown action is a 404 before the body matters
    body: ActionIn = parse_body(bp.current_request, ActionIn)
    desk = runtime.desk()
    try:
        done = cases_admin.act(
            runtime.case_store(),
            runtime.roster_store(),
            actor,
            receipt_number,
            action,
            cases_admin.ActionInput(
                version=body.version,
                expert_id=body.expert_id,
                owner=body.owner,
                note=body.note,
                outcome=body.outcome,
            ),
            desk=desk,
            members=runtime.directory().members,
        )
    except lifecycle.IllegalTransition as exc:
        return _refusal(409, "illegal_transition", exc.message, exc.message_en)
    row = cases_admin.list_row(done.case, desk.deployment, desk.settings.max_sessions)
    return ok({"action": done.action.value, "changed": done.changed, "case": row})


@admin_route(
    bp,
    "/admin/cases/{receipt_number}/suggestions",
    method="GET",
    role="staff",
    summary=(
        "Experts ranked for the case with their reasons (category, support types, area, load, "
        "last request), the excluded with why (conflict, capacity, format) and those already "
        "asked, declined or assigned"
    ),
    query=SuggestionQuery,
    response=SuggestionList,
)
def case_suggestions(actor: Actor, receipt_number: str) -> Response:
    query: SuggestionQuery = parse_query(bp.current_request, SuggestionQuery)
    found = cases_admin.suggestions(
        runtime.case_store(),
        runtime.roster_store(),
        receipt_number,
        deployment=runtime.directory().deployment,
        now=runtime.now(),
        limit=query.limit,
    )
    return ok(found)
