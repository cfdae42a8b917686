"""The desk's reference data in the console: the staff list (with each person's console
role) and the categories and support types, read fresh as GET /admin/staff and
GET /admin/taxonomy read them. Staff may read both; admins add and edit staff members
and the categories and support types (core/directory.py save_staff and save_taxonomy, the
rules and audit of /admin/staff and /admin/taxonomy)."""

from __future__ import annotations

from typing import Any

from chalice.app import Response
from pydantic import ValidationError

from chalicelib import runtime
from chalicelib.console.web import Ctx, Refused, page, redirect, render
from chalicelib.core import directory
from chalicelib.core import staff as staff_rules
from chalicelib.core.errors import (
    AlreadyExists,
    FieldError,
    InvalidAdminInput,
    NotFound,
    VersionConflict,
)
from chalicelib.core.staff_input import StaffIn


@page("/console/staff", summary="職員名簿と役割 / The desk's staff list and roles", role="staff")
def staff_list(ctx: Ctx) -> Response:
    members = directory.current_members(runtime.admin_store(), ctx.desk.now)
    resolved = staff_rules.resolve(members, ctx.desk.settings.staff_notify_to)
    return render(
        ctx,
        "staff",
        members=sorted(members, key=lambda member: member.staff_id),
        source=resolved.source,
        fallback=list(resolved.notify_to) if resolved.source == "environment" else [],
    )


@page(
    "/console/taxonomy",
    summary="分野と支援の種類 / Categories and support types",
    role="staff",
)
def taxonomy(ctx: Ctx) -> Response:
    current = directory.current_taxonomy(
        runtime.admin_store(), runtime.get_deployment(), ctx.desk.now
    )
    return render(ctx, "taxonomy", taxonomy=current)


STAFF_FIELDS = (
    "staff_id",
    "display_name",
    "email",
    "role",
    "notify",
    "may_act_by_email",
    "active",
    "csrf",
)
STAFF_LABELS = {
    "staff_id": "職員ID",
    "display_name": "表示名",
    "email": "メールアドレス",
    "role": "役割",
    "notify": "新しい相談の通知",
    "may_act_by_email": "メールで操作",
    "active": "有効",
}


def _staff_values(ctx: Ctx, staff_id: str | None) -> dict[str, Any]:
    return {
        "staff_id": staff_id if staff_id is not None else ctx.get("staff_id").strip(),
        "display_name": ctx.get("display_name").strip(),
        "email": ctx.get("email").strip(),
        "role": ctx.get("role") or "staff",
        "notify": ctx.get("notify") == "1",
        "may_act_by_email": ctx.get("may_act_by_email") == "1",
        "active": ctx.get("active") == "1",
    }


def _staff_form(
    ctx: Ctx, values: dict[str, Any], errors: list[FieldError], *, create: bool, status: int = 200
) -> Response:
    by_field: dict[str, str] = {}
    for error in errors:
        by_field.setdefault(error.field, error.message)
    return render(
        ctx,
        "staff_form",
        status,
        values=values,
        create=create,
        errors=list(by_field.items()),
        field_errors=by_field,
    )


def _save_staff(ctx: Ctx, values: dict[str, Any], *, create: bool) -> Response:
    try:
        member = StaffIn.model_validate(values).member()
        changed = directory.save_staff(
            runtime.admin_store(),
            ctx.user.actor,  # type: ignore[union-attr]
            member,
            create=create,
            now=ctx.desk.now,
            settings=ctx.desk.settings,
        )
    except ValidationError as exc:
        errors = [
            FieldError(
                field=str(error["loc"][0]) if error.get("loc") else "staff_id",
                code=str(error.get("type", "invalid")),
                message=f"「{STAFF_LABELS.get(str(error['loc'][0]) if error.get('loc') else '', '入力')}」"
                "の値が正しくありません。",
                message_en=str(error.get("msg", "Invalid value")),
            )
            for error in exc.errors(include_input=False, include_url=False)
        ]
        return _staff_form(ctx, values, errors, create=create, status=422)
    except InvalidAdminInput as exc:
        return _staff_form(ctx, values, exc.errors, create=create, status=422)
    except AlreadyExists:
        error = FieldError(
            field="staff_id",
            code="exists",
            message="この職員IDはすでに使われています。",
            message_en="This staff id exists already.",
        )
        return _staff_form(ctx, values, [error], create=create, status=422)
    except NotFound:
        raise Refused(404, "職員が見つかりません", "この職員IDは名簿にありません。") from None
    except VersionConflict:
        raise Refused(409, "ほかの方が先に更新しました", "何も変更されていません。") from None
    # The directory this container holds is read again at once (others within a minute).
    runtime.forget_directory()
    return redirect(
        ctx, "/console/staff", done="created" if create else ("saved" if changed else "unchanged")
    )


@page("/console/staff/new", summary="職員を追加する画面 / Add a staff member", role="admin")
def new_staff(ctx: Ctx) -> Response:
    values = {
        "staff_id": "",
        "display_name": "",
        "email": "",
        "role": "staff",
        "notify": True,
        "may_act_by_email": True,
        "active": True,
    }
    return _staff_form(ctx, values, [], create=True)


@page(
    "/console/staff",
    method="POST",
    summary="職員を追加する（監査記録あり） / Add a staff member (audited)",
    role="admin",
    fields=STAFF_FIELDS,
    statuses=(303, 403, 422),
)
def create_staff(ctx: Ctx) -> Response:
    return _save_staff(ctx, _staff_values(ctx, None), create=True)


@page(
    "/console/staff/{staff_id}/edit",
    summary="職員を編集する画面（役割・通知・有効） / Edit a staff member",
    role="admin",
    statuses=(200, 404),
)
def edit_staff(ctx: Ctx, staff_id: str) -> Response:
    members = directory.current_members(runtime.admin_store(), ctx.desk.now)
    found = next((m for m in members if m.staff_id == staff_id), None)
    if found is None:
        raise Refused(404, "職員が見つかりません", "この職員IDは名簿にありません。")
    return _staff_form(ctx, found.model_dump(), [], create=False)


@page(
    "/console/staff/{staff_id}",
    method="POST",
    summary="職員を更新する（監査記録あり） / Save a staff member (audited)",
    role="admin",
    fields=STAFF_FIELDS,
    statuses=(303, 403, 404, 409, 422),
)
def update_staff(ctx: Ctx, staff_id: str) -> Response:
    return _save_staff(ctx, _staff_values(ctx, staff_id), create=False)


KIND_TITLES = {"categories": "分野 / Categories", "support_types": "支援の種類 / Support types"}


def _taxonomy_rows(ctx: Ctx, kind: str) -> list[dict[str, Any]]:
    """The posted rows of one kind (existing rows by index, then the new row if filled)."""
    rows = []
    index = 0
    while f"{kind}-{index}-id" in ctx.fields and index < 100:
        prefix = f"{kind}-{index}"
        rows.append(
            {
                "id": ctx.get(f"{prefix}-id").strip(),
                "ja": ctx.get(f"{prefix}-ja").strip(),
                "en": ctx.get(f"{prefix}-en").strip(),
                "active": ctx.get(f"{prefix}-active") == "1",
            }
        )
        index += 1
    new_id = ctx.get(f"{kind}-new-id").strip()
    if new_id or ctx.get(f"{kind}-new-ja").strip():
        rows.append(
            {
                "id": new_id,
                "ja": ctx.get(f"{kind}-new-ja").strip(),
                "en": ctx.get(f"{kind}-new-en").strip(),
                "active": True,
            }
        )
    return rows


def _taxonomy_form(
    ctx: Ctx, values: dict[str, Any], errors: list[str], status: int = 200
) -> Response:
    return render(
        ctx, "taxonomy_form", status, values=values, errors=errors, kind_titles=KIND_TITLES
    )


@page(
    "/console/taxonomy/edit",
    summary="分野と支援の種類を編集する画面 / Edit categories and support types",
    role="admin",
)
def edit_taxonomy(ctx: Ctx) -> Response:
    current = directory.current_taxonomy(
        runtime.admin_store(), runtime.get_deployment(), ctx.desk.now
    )
    return _taxonomy_form(ctx, current.model_dump(mode="json"), [])


@page(
    "/console/taxonomy",
    method="POST",
    summary="分野と支援の種類を保存する（IDは削除不可、無効化で対応。監査記録あり） / Save "
    "categories and support types (audited)",
    role="admin",
    fields=("version", "csrf"),
    statuses=(303, 403, 409, 422),
)
def save_taxonomy(ctx: Ctx) -> Response:
    from chalicelib.core.taxonomy import Taxonomy

    version = ctx.get("version")
    values: dict[str, Any] = {
        "version": int(version) if version.isdigit() else -1,
        "categories": _taxonomy_rows(ctx, "categories"),
        "support_types": _taxonomy_rows(ctx, "support_types"),
    }
    try:
        proposed = Taxonomy.model_validate(values)
        _, changed = directory.save_taxonomy(
            runtime.admin_store(),
            ctx.user.actor,  # type: ignore[union-attr]
            proposed,
            deployment=runtime.get_deployment(),
            now=ctx.desk.now,
            settings=ctx.desk.settings,
        )
    except ValidationError as exc:
        messages = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = list(error.get("loc") or ())
            where = KIND_TITLES.get(str(loc[0]), "") if loc else ""
            row = f"{int(loc[1]) + 1}行目の" if len(loc) > 1 and isinstance(loc[1], int) else ""
            field = {"id": "ID", "ja": "日本語", "en": "English"}.get(str(loc[-1]), "")
            messages.append(
                f"{where} {row}{field}の値が正しくありません（必須、1行、IDは半角英小文字・数字・_）。"
            )
        return _taxonomy_form(ctx, values, messages, 422)
    except InvalidAdminInput as exc:
        return _taxonomy_form(ctx, values, [error.message for error in exc.errors], 422)
    except VersionConflict:
        raise Refused(
            409,
            "ほかの方が先に更新しました",
            "何も変更されていません。編集画面を開き直してから、もう一度保存してください。",
        ) from None
    if changed:
        runtime.forget_directory()
    return redirect(ctx, "/console/taxonomy", done="saved" if changed else "unchanged")
