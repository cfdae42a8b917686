"""The desk's reference data in the console: the staff list (with each person's console
role) and the categories and support types, read fresh as GET /admin/staff and
GET /admin/taxonomy read them. Staff may read both; changes stay with the admin API for now."""

from __future__ import annotations

from chalice.app import Response

from chalicelib import runtime
from chalicelib.console.web import Ctx, page, render
from chalicelib.core import directory
from chalicelib.core import staff as staff_rules


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
