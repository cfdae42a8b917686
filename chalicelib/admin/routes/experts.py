"""/admin/experts: the roster of advisors and partner companies (admins edit, staff read)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib import runtime
from chalicelib.admin.auth import admin_route, ok, parse_body, parse_query
from chalicelib.admin.schemas import (
    Changed,
    ExpertFilters,
    ExpertIn,
    ExpertList,
    ExpertOut,
    ExpertStaffList,
    ExpertStaffOut,
)
from chalicelib.core.access import Actor, allows
from chalicelib.core.errors import NotFound
from chalicelib.core.roster import Expert
from chalicelib.runtime import get_settings
from chalicelib.storage.roster import RosterEntry

bp = Blueprint(__name__)

# Every Lambda function imports this module and only an admin request uses it:
# the services behind the views are imported inside them (cold start).


def _known_ids() -> tuple[list[str], list[str], list[str]]:
    from chalicelib.core import roster_admin

    return roster_admin.known_ids(runtime.directory())


def _validated(expert: Expert) -> Expert:
    from chalicelib.core import roster_admin

    return roster_admin.validated(expert, runtime.directory())


def _out(entry: RosterEntry) -> ExpertOut:
    return ExpertOut(
        expert=entry.expert, open_cases=entry.open_cases, last_asked_at=entry.last_asked_at
    )


def _staff_out(entry: RosterEntry) -> ExpertStaffOut:
    return ExpertStaffOut(
        expert=entry.expert.profile(),
        open_cases=entry.open_cases,
        last_asked_at=entry.last_asked_at,
    )


def _matches(expert: Expert, filters: ExpertFilters) -> bool:
    from chalicelib.core import roster_admin

    return roster_admin.matches(expert, filters)


@admin_route(
    bp,
    "/admin/experts",
    method="GET",
    role="staff",
    summary=(
        "List experts (filters: kind, category, support_type, area, active); "
        "contact addresses for admin tokens only"
    ),
    query=ExpertFilters,
    response=ExpertList,
    staff_response=ExpertStaffList,
)
def list_experts(actor: Actor) -> Response:
    filters: ExpertFilters = parse_query(bp.current_request, ExpertFilters)
    entries = [e for e in runtime.roster_store().entries() if _matches(e.expert, filters)]
    if allows(actor.role, "admin"):
        full = ExpertList(experts=[_out(e) for e in entries], count=len(entries))
        return ok(full.model_dump(mode="json"))
    staff = ExpertStaffList(experts=[_staff_out(e) for e in entries], count=len(entries))
    return ok(staff.model_dump(mode="json"))


@admin_route(
    bp,
    "/admin/experts",
    method="POST",
    role="admin",
    summary="Register an expert",
    body=ExpertIn,
    response=ExpertOut,
)
def create_expert(actor: Actor) -> Response:
    from chalicelib.core import roster_admin

    expert = _validated(parse_body(bp.current_request, ExpertIn))
    roster_admin.save_expert(
        runtime.roster_store(),
        actor,
        expert,
        create=True,
        now=runtime.now(),
        settings=get_settings(),
    )
    return ok(ExpertOut(expert=expert).model_dump(mode="json"), status=201)


@admin_route(
    bp,
    "/admin/experts/{expert_id}",
    method="GET",
    role="staff",
    summary="One expert with current load; contact addresses for admin tokens only",
    response=ExpertOut,
    staff_response=ExpertStaffOut,
)
def read_expert(actor: Actor, expert_id: str) -> Response:
    entry = runtime.roster_store().entry(expert_id)
    if entry is None:
        raise NotFound("expert")
    # The contact addresses are for admins (docs/api.md "Roster CSV"); staff get the profile.
    view = _out(entry) if allows(actor.role, "admin") else _staff_out(entry)
    return ok(view.model_dump(mode="json"))


@admin_route(
    bp,
    "/admin/experts/{expert_id}",
    method="PUT",
    role="admin",
    summary="Replace an expert's profile (load and history are kept)",
    body=ExpertIn,
    response=Changed,
)
def update_expert(actor: Actor, expert_id: str) -> Response:
    from chalicelib.core import roster_admin

    expert = _validated(parse_body(bp.current_request, ExpertIn))
    if expert.expert_id != expert_id:
        raise NotFound("expert")
    changed = roster_admin.save_expert(
        runtime.roster_store(),
        actor,
        expert,
        create=False,
        now=runtime.now(),
        settings=get_settings(),
    )
    return ok(Changed(changed=changed).model_dump())


@admin_route(
    bp,
    "/admin/experts/{expert_id}/deactivate",
    method="POST",
    role="admin",
    summary="Deactivate an expert (never deleted: cases keep the reference)",
    response=ExpertOut,
)
def deactivate_expert(actor: Actor, expert_id: str) -> Response:
    from chalicelib.core import roster_admin

    expert = roster_admin.set_active(
        runtime.roster_store(), actor, expert_id, False, now=runtime.now(), settings=get_settings()
    )
    return ok(ExpertOut(expert=expert).model_dump(mode="json"))


@admin_route(
    bp,
    "/admin/experts/{expert_id}/activate",
    method="POST",
    role="admin",
    summary="Reactivate an expert",
    response=ExpertOut,
)
def activate_expert(actor: Actor, expert_id: str) -> Response:
    from chalicelib.core import roster_admin

    expert = roster_admin.set_active(
        runtime.roster_store(), actor, expert_id, True, now=runtime.now(), settings=get_settings()
    )
    return ok(ExpertOut(expert=expert).model_dump(mode="json"))
