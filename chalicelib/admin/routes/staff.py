"""/admin/staff: the desk's staff list (admins edit, staff read); each change audited in its write.

The list decides who is told of new cases and who may act by reply or link.
Until the first member is stored, STAFF_NOTIFY_TO is the list (GET says so).
An edit takes effect at once in the Lambda container that made it and within
DIRECTORY_CACHE_SECONDS everywhere else.
"""

from __future__ import annotations

from typing import Literal

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict

from chalicelib import runtime
from chalicelib.admin.auth import admin_route, ok, parse_body
from chalicelib.admin.schemas import Changed
from chalicelib.core import directory
from chalicelib.core import staff as staff_rules
from chalicelib.core.access import Actor
from chalicelib.core.errors import FieldError, InvalidAdminInput
from chalicelib.core.staff import StaffMember

# The input model lives in core (the console's staff form uses it too).
from chalicelib.core.staff_input import StaffIn
from chalicelib.runtime import get_settings

bp = Blueprint(__name__)

# Every Lambda function imports this module and only an admin request uses it:
# the models build their validators on first use (defer_build, cold start).


class StaffOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    staff: StaffMember


class StaffList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    staff: list[StaffMember]
    count: int
    # "environment": nobody is stored yet, so STAFF_NOTIFY_TO is the list.
    source: Literal["stored", "environment"]
    notified: int
    may_act_by_email: int
    environment_addresses: list[str] = []


def _member(body: StaffIn) -> StaffMember:
    return StaffMember.model_validate(body.model_dump())


@admin_route(
    bp,
    "/admin/staff",
    method="GET",
    role="staff",
    summary="The desk's staff list (who is told of new cases, who may act by mail)",
    response=StaffList,
)
def list_staff(actor: Actor) -> Response:
    settings = get_settings()
    # Read fresh, not from the cache: an admin checks what was just saved.
    members = directory.current_members(runtime.admin_store(), runtime.now())
    resolved = staff_rules.resolve(members, settings.staff_notify_to)
    body = StaffList(
        staff=sorted(members, key=lambda member: member.staff_id),
        count=len(members),
        source=resolved.source,
        notified=len(resolved.notify_to),
        may_act_by_email=len(resolved.act_by_email),
        environment_addresses=list(resolved.notify_to) if resolved.source == "environment" else [],
    )
    return ok(body.model_dump(mode="json"))


@admin_route(
    bp,
    "/admin/staff",
    method="POST",
    role="admin",
    summary="Add a staff member (the first one replaces the STAFF_NOTIFY_TO fallback)",
    body=StaffIn,
    response=StaffOut,
)
def create_staff(actor: Actor) -> Response:
    member = _member(parse_body(bp.current_request, StaffIn))
    directory.save_staff(
        runtime.admin_store(),
        actor,
        member,
        create=True,
        now=runtime.now(),
        settings=get_settings(),
    )
    runtime.forget_directory()
    return ok(StaffOut(staff=member).model_dump(mode="json"), status=201)


@admin_route(
    bp,
    "/admin/staff/{staff_id}",
    method="PUT",
    role="admin",
    summary="Replace a staff member's record",
    body=StaffIn,
    response=Changed,
)
def update_staff(actor: Actor, staff_id: str) -> Response:
    member = _member(parse_body(bp.current_request, StaffIn))
    if member.staff_id != staff_id:
        raise InvalidAdminInput(
            [
                FieldError(
                    field="staff_id",
                    code="id_mismatch",
                    message="「staff_id」がURLのIDと一致しません（IDは変更できません）。",
                    message_en="staff_id must equal the id in the path (ids never change).",
                    loc=("staff_id",),
                )
            ]
        )
    changed = directory.save_staff(
        runtime.admin_store(),
        actor,
        member,
        create=False,
        now=runtime.now(),
        settings=get_settings(),
    )
    if changed:
        runtime.forget_directory()
    return ok(Changed(changed=changed).model_dump())


@admin_route(
    bp,
    "/admin/staff/{staff_id}/deactivate",
    method="POST",
    role="admin",
    summary="Deactivate a staff member (never deleted: case histories keep naming them)",
    response=StaffOut,
)
def deactivate_staff(actor: Actor, staff_id: str) -> Response:
    member = directory.deactivate_staff(
        runtime.admin_store(), actor, staff_id, now=runtime.now(), settings=get_settings()
    )
    runtime.forget_directory()
    return ok(StaffOut(staff=member).model_dump(mode="json"))
