"""The roster in the console: the list with the API's filters, an expert's page (load and
history), add, edit, deactivate and activate. Edits go through core/roster_admin.py, the
same rules and audit records as /admin/experts."""

from __future__ import annotations

from typing import Any

from chalice.app import Response
from pydantic import ValidationError

from chalicelib import runtime
from chalicelib.console.web import Ctx, Refused, page, redirect, render
from chalicelib.core import roster_admin
from chalicelib.core.errors import (
    AlreadyExists,
    FieldError,
    InvalidAdminInput,
    NotFound,
    VersionConflict,
)
from chalicelib.core.roster import Expert

FILTERS = ("kind", "category", "support_type", "area", "active")
EXPERT_FIELDS = (
    "expert_id",
    "kind",
    "display_name",
    "organization",
    "categories",
    "support_types",
    "areas",
    "online_ok",
    "contact_emails",
    "capacity",
    "conflict_notes",
    "conflicts",
    "csrf",
)
KIND_LABELS = {"advisor": "アドバイザー", "partner": "パートナー企業"}
NOT_FOUND = ("専門家が見つかりません", "この専門家IDは名簿にありません。 / No such expert.")
CONFLICT = (
    "ほかの方が先に更新しました",
    "何も変更されていません。最新の内容を開き直してから、もう一度操作してください。"
    " / Someone changed it first: nothing was changed.",
)


def field_label(name: str) -> str:
    from chalicelib.core.rostercsv import BY_FIELD

    column = BY_FIELD.get(name)
    return column.label if column else name


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors as the form shows them: the field's Japanese label, never the value."""
    found = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error.get("loc") or ())
        name = str(loc[0]) if loc else "expert_id"
        found.append(
            FieldError(
                field=name,
                code=str(error.get("type", "invalid")),
                message=f"「{field_label(name)}」の値が正しくありません（{_hint(name)}）。",
                message_en=str(error.get("msg", "Invalid value")),
                loc=loc,
            )
        )
    return found


def _hint(name: str) -> str:
    return {
        "expert_id": "半角の小文字・数字・-・_ で64文字まで、先頭は英小文字か数字",
        "display_name": "必須です",
        "categories": "1つ以上選んでください",
        "support_types": "1つ以上選んでください",
        "contact_emails": "1行に1つ、1つ以上",
        "capacity": "1以上の整数",
        "kind": "どちらかを選んでください",
    }.get(name, "入力を確かめてください")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def expert_from_form(ctx: Ctx, expert_id: str | None) -> dict[str, Any]:
    """The posted form as the roster's fields (unvalidated: ExpertIn decides)."""
    capacity = ctx.get("capacity").strip()
    return {
        "expert_id": expert_id if expert_id is not None else ctx.get("expert_id").strip(),
        "kind": ctx.get("kind") or None,
        "display_name": ctx.get("display_name").strip(),
        "organization": ctx.get("organization").strip() or None,
        "categories": ctx.getlist("categories"),
        "support_types": ctx.getlist("support_types"),
        "areas": ctx.getlist("areas"),
        "online_ok": ctx.get("online_ok") == "1",
        "contact_emails": _lines(ctx.get("contact_emails")),
        "capacity": int(capacity) if capacity.isdigit() else capacity or None,
        "active": ctx.get("active", "1") == "1",
        "conflict_notes": ctx.get("conflict_notes").strip() or None,
        "conflicts": _lines(ctx.get("conflicts")),
    }


def _choices(ctx: Ctx) -> dict[str, list[tuple[str, str]]]:
    directory = runtime.directory()
    deployment = directory.deployment
    categories, support_types, areas = roster_admin.known_ids(directory)
    return {
        "kind": list(KIND_LABELS.items()),
        "categories": [(key, deployment.categories[key].ja) for key in categories],
        "support_types": [(key, deployment.support_types[key].ja) for key in support_types],
        "areas": [(key, deployment.municipalities[key].ja) for key in areas],
    }


def _form(
    ctx: Ctx,
    *,
    values: dict[str, Any],
    errors: list[FieldError],
    create: bool,
    status: int = 200,
) -> Response:
    by_field: dict[str, str] = {}
    for error in errors:
        by_field.setdefault(error.field, error.message)
    return render(
        ctx,
        "expert_form",
        status,
        values=values,
        errors=[(name, message) for name, message in by_field.items()],
        field_errors=by_field,
        create=create,
        choices=_choices(ctx),
        label_of=field_label,
    )


def _save(ctx: Ctx, data: dict[str, Any], *, create: bool) -> Response:
    try:
        expert = roster_admin.validated(
            roster_admin.ExpertIn.model_validate(data), runtime.directory()
        )
        changed = roster_admin.save_expert(
            runtime.roster_store(),
            ctx.user.actor,  # type: ignore[union-attr]
            expert,
            create=create,
            now=ctx.desk.now,
            settings=ctx.desk.settings,
        )
    except ValidationError as exc:
        return _form(ctx, values=data, errors=field_errors(exc), create=create, status=422)
    except InvalidAdminInput as exc:
        return _form(ctx, values=data, errors=exc.errors, create=create, status=422)
    except AlreadyExists:
        error = FieldError(
            field="expert_id",
            code="exists",
            message="この専門家IDはすでに使われています。別のIDにしてください。",
            message_en="This expert id exists already.",
        )
        return _form(ctx, values=data, errors=[error], create=create, status=422)
    except NotFound:
        raise Refused(404, *NOT_FOUND) from None
    except VersionConflict:
        raise Refused(409, *CONFLICT) from None
    done = "created" if create else ("saved" if changed else "unchanged")
    return redirect(ctx, f"/console/experts/{expert.expert_id}", done=done)


@page(
    "/console/experts",
    summary="専門家名簿（絞り込み：区分・分野・支援・地域・有効） / The roster, with the API's filters",
    role="staff",
    statuses=(200, 422),
)
def roster_list(ctx: Ctx) -> Response:
    given = {name: ctx.query(name) for name in FILTERS if ctx.query(name)}
    errors: list[FieldError] = []
    try:
        filters = roster_admin.ExpertFilters.model_validate(given)
    except ValidationError as exc:
        errors = field_errors(exc)
        filters = roster_admin.ExpertFilters()
    entries = [
        entry
        for entry in runtime.roster_store().entries()
        if roster_admin.matches(entry.expert, filters)
    ]
    return render(
        ctx,
        "experts",
        422 if errors else 200,
        entries=entries,
        filters=filters,
        errors=[error.message for error in errors],
        choices=_choices(ctx),
        kind_labels=KIND_LABELS,
    )


@page("/console/experts/new", summary="専門家を登録する画面 / Add an expert", role="admin")
def new_expert(ctx: Ctx) -> Response:
    values = {
        "expert_id": "",
        "kind": "advisor",
        "display_name": "",
        "organization": "",
        "categories": [],
        "support_types": [],
        "areas": [],
        "online_ok": True,
        "contact_emails": [],
        "capacity": 3,
        "active": True,
        "conflict_notes": "",
        "conflicts": [],
    }
    return _form(ctx, values=values, errors=[], create=True)


@page(
    "/console/experts",
    method="POST",
    summary="専門家を登録する / Add an expert (audited as the signed-in person)",
    role="admin",
    fields=EXPERT_FIELDS,
    statuses=(303, 403, 422),
)
def create_expert(ctx: Ctx) -> Response:
    return _save(ctx, expert_from_form(ctx, None), create=True)


def _entry(expert_id: str) -> Any:
    entry = runtime.roster_store().entry(expert_id)
    if entry is None:
        raise Refused(404, *NOT_FOUND)
    return entry


@page(
    "/console/experts/{expert_id}",
    summary="専門家の詳細：対応状況と変更履歴 / One expert: load and history",
    role="staff",
    statuses=(200, 404),
)
def expert_page(ctx: Ctx, expert_id: str) -> Response:
    entry = _entry(expert_id)
    history: list[dict[str, Any]] = []
    if ctx.user and ctx.user.is_admin:
        history = runtime.admin_store().audit_of("expert", expert_id, int(ctx.desk.now.timestamp()))
        history.reverse()
    return render(
        ctx,
        "expert",
        entry=entry,
        expert=entry.expert,
        history=history,
        kind_labels=KIND_LABELS,
        label_of=field_label,
    )


@page(
    "/console/experts/{expert_id}/edit",
    summary="専門家を編集する画面 / Edit an expert",
    role="admin",
    statuses=(200, 404),
)
def edit_expert(ctx: Ctx, expert_id: str) -> Response:
    expert: Expert = _entry(expert_id).expert
    return _form(ctx, values=expert.model_dump(), errors=[], create=False)


@page(
    "/console/experts/{expert_id}",
    method="POST",
    summary="専門家を更新する / Save an expert's profile (audited as the signed-in person)",
    role="admin",
    fields=EXPERT_FIELDS,
    statuses=(303, 403, 404, 409, 422),
)
def update_expert(ctx: Ctx, expert_id: str) -> Response:
    before: Expert = _entry(expert_id).expert
    data = expert_from_form(ctx, expert_id)
    # Activation has its own buttons: an edit keeps it as it is.
    data["active"] = before.active
    return _save(ctx, data, create=False)


@page(
    "/console/experts/{expert_id}/active",
    method="POST",
    summary="専門家を無効化・有効化する / Deactivate or reactivate an expert",
    role="admin",
    fields=("active", "csrf"),
    statuses=(303, 403, 404, 409),
)
def set_active(ctx: Ctx, expert_id: str) -> Response:
    active = ctx.get("active") == "1"
    try:
        roster_admin.set_active(
            runtime.roster_store(),
            ctx.user.actor,  # type: ignore[union-attr]
            expert_id,
            active,
            now=ctx.desk.now,
            settings=ctx.desk.settings,
        )
    except NotFound:
        raise Refused(404, *NOT_FOUND) from None
    except VersionConflict:
        raise Refused(409, *CONFLICT) from None
    return redirect(
        ctx, f"/console/experts/{expert_id}", done="activated" if active else "deactivated"
    )
