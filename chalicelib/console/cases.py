"""Cases in the console: the list by status and category, one case with its timeline, and
the same actions as the mail links, done by core/case_admin.py `act` (core/acting.py
`perform`, channel "admin") and audited as the signed-in person."""

from __future__ import annotations

import re
from typing import Any

from chalice.app import Response

from chalicelib import runtime
from chalicelib.console.web import Ctx, Refused, page, redirect, render
from chalicelib.core import case_admin, lifecycle
from chalicelib.core.case import STATUS_LABELS, Status
from chalicelib.core.errors import InvalidAdminInput, NotFound, VersionConflict
from chalicelib.core.receipt import JST

CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PAGE_SIZE = 50
ACTION_FIELDS = ("version", "expert_id", "owner", "note", "outcome", "csrf")
NOT_FOUND = ("案件が見つかりません", "この受付番号の案件はありません。 / No such case.")


@page(
    "/console/cases",
    summary="案件一覧（状態・分野で絞り込み） / Cases by status and category",
    role="staff",
    statuses=(200, 422),
)
def case_list(ctx: Ctx) -> Response:
    status = ctx.query("status")
    category = ctx.query("category")
    cursor = ctx.query("next") or None
    errors = []
    if status and status not in {s.value for s in Status}:
        errors.append("状態の指定が正しくありません。 / Unknown status.")
        status = ""
    if category and not CATEGORY.match(category):
        errors.append("分野の指定が正しくありません。 / Unknown category.")
        category = ""
    deployment = ctx.desk.deployment
    result: dict[str, Any] = {"cases": [], "next": None}
    try:
        result = case_admin.list_cases(
            runtime.case_store(),
            case_admin.CaseFilter(
                status=status or None, category=category or None, limit=PAGE_SIZE
            ),
            cursor=cursor,
            today=ctx.desk.now.astimezone(JST).date(),
            now_epoch=int(ctx.desk.now.timestamp()),
            deployment=deployment,
            max_sessions=ctx.desk.settings.max_sessions,
        )
    except case_admin.InvalidCursor:
        errors.append("ページの指定が正しくありません。最初のページを表示します。")
    return render(
        ctx,
        "cases",
        422 if errors else 200,
        rows=result["cases"],
        next=result["next"],
        chosen_status=status,
        category=category,
        errors=errors,
        statuses=[(s.value, STATUS_LABELS[s][0]) for s in Status],
        categories=[(key, label.ja) for key, label in deployment.categories.items()],
    )


@page(
    "/console/cases/{receipt_number}",
    summary="案件の詳細と経過、できる操作 / One case: its timeline and the actions that apply",
    role="staff",
    statuses=(200, 404),
)
def case_page(ctx: Ctx, receipt_number: str) -> Response:
    roster = runtime.roster_store()
    experts = roster.list_all()
    try:
        detail = case_admin.case_detail(
            runtime.case_store(),
            receipt_number,
            now_epoch=int(ctx.desk.now.timestamp()),
            deployment=ctx.desk.deployment,
            max_sessions=ctx.desk.settings.max_sessions,
            expert_names={e.expert_id: e.display_name for e in experts},
        )
    except NotFound:
        raise Refused(404, *NOT_FOUND) from None
    asked = list(detail["case"].get("asked_experts") or [])
    return render(
        ctx,
        "case",
        detail=detail,
        case=detail["case"],
        summary=detail["summary"],
        action_labels={a.value: lifecycle.ACTION_LABELS[a][0] for a in lifecycle.Action},
        active_experts=[(e.expert_id, e.display_name) for e in experts if e.active],
        asked_experts=[(e, detail_name(detail, e)) for e in asked],
        needs_expert={a.value for a in case_admin.NEEDS_EXPERT},
    )


def detail_name(detail: dict[str, Any], expert_id: str) -> str:
    for entry in detail["assignments"]:
        if entry["expert_id"] == expert_id:
            return str(entry.get("display_name") or expert_id)
    return expert_id


@page(
    "/console/cases/{receipt_number}/actions/{action}",
    method="POST",
    summary="案件の操作（メールのリンクと同じ操作） / Do a case action (as the mail links do)",
    role="staff",
    fields=ACTION_FIELDS,
    statuses=(303, 403, 404, 409, 422),
)
def case_action(ctx: Ctx, receipt_number: str, action: str) -> Response:
    version = ctx.get("version")
    if not version.isdigit():
        raise Refused(422, "操作できませんでした", "画面を開き直してから操作してください。")
    try:
        case_admin.act(
            runtime.case_store(),
            runtime.roster_store(),
            ctx.user.actor,  # type: ignore[union-attr]
            receipt_number,
            action,
            case_admin.ActionInput(
                version=int(version),
                expert_id=ctx.get("expert_id") or None,
                owner=ctx.get("owner").strip() or None,
                note=ctx.get("note").strip()[:2000],
                outcome=ctx.get("outcome").strip()[:500],
            ),
            desk=ctx.desk,
            members=runtime.directory().members,
        )
    except NotFound:
        raise Refused(404, *NOT_FOUND) from None
    except VersionConflict:
        raise Refused(
            409,
            "ほかの方が先にこの案件を更新しました",
            "何も変更されていません。案件を開き直して、最新の状態を確かめてから操作してください。",
        ) from None
    except lifecycle.IllegalTransition as exc:
        raise Refused(409, "この操作はできません", exc.message) from None
    except InvalidAdminInput as exc:
        raise Refused(
            422, "操作できませんでした", " ".join(error.message for error in exc.errors)
        ) from None
    return redirect(ctx, f"/console/cases/{receipt_number}", done="acted")
