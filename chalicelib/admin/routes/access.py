"""/admin/tokens and /admin/audit: who may use the admin API, and what they did."""

from __future__ import annotations

from datetime import timedelta

from chalice.app import Blueprint, Response

from chalicelib import runtime
from chalicelib.admin.auth import admin_route, ok, parse_body, parse_query
from chalicelib.admin.schemas import (
    AuditOf,
    AuditPage,
    AuditQuery,
    Me,
    TokenIn,
    TokenIssued,
    TokenList,
)
from chalicelib.core import access as admin
from chalicelib.core.timefmt import iso
from chalicelib.runtime import get_settings

bp = Blueprint(__name__)

# Every Lambda function imports this module and only an admin request uses it:
# the services behind the views are imported inside them (cold start).

AUDIT_TARGETS = ("expert", "staff", "token", "taxonomy", "case", "requester")


@admin_route(bp, "/admin/me", method="GET", role="staff", summary="Who am I", response=Me)
def who_am_i(actor: admin.Actor) -> Response:
    return ok({"actor": actor.actor, "role": actor.role, "token_id": actor.token_id})


@admin_route(
    bp,
    "/admin/tokens",
    method="POST",
    role="admin",
    summary="Issue a bearer token (shown once; only its digest is stored)",
    body=TokenIn,
    response=TokenIssued,
)
def issue_token(actor: admin.Actor) -> Response:
    from chalicelib.core.roster_admin import audit_expiry

    request: TokenIn = parse_body(bp.current_request, TokenIn)
    now = runtime.now()
    issued = admin.issue_token()
    valid_until = int((now + timedelta(days=request.valid_days)).timestamp())
    record = {
        "token_id": issued.token_id,
        "role": request.role,
        "actor": request.actor,
        "created_at": iso(now),
        "created_by": actor.actor,
        "valid_until": valid_until,
        "retention_class": "access",
        # Kept a year past validity, so the audit log's token ids stay explainable.
        "expires_at": valid_until + admin.TOKEN_RECORD_GRACE_SECONDS,
    }
    entry = admin.audit_entry(
        actor,
        action="token.issue",
        target_type="token",
        target_id=issued.token_id,
        at=now,
        fields=["role", "actor", "valid_until"],
    )
    runtime.admin_store().put_token(issued.digest, record, entry, audit_expiry(get_settings(), now))
    body = TokenIssued(
        token=issued.token,
        token_id=issued.token_id,
        role=request.role,
        actor=request.actor,
        valid_until=valid_until,
    )
    return ok(body.model_dump(), status=201)


@admin_route(
    bp, "/admin/tokens", method="GET", role="admin", summary="List tokens", response=TokenList
)
def list_tokens(actor: admin.Actor) -> Response:
    return ok({"tokens": runtime.admin_store().list_tokens()})


@admin_route(
    bp,
    "/admin/tokens/{token_id}/revoke",
    method="POST",
    role="admin",
    summary="Revoke a token (API Gateway may honour a cached answer for up to a minute)",
    response=TokenList,
)
def revoke_token(actor: admin.Actor, token_id: str) -> Response:
    from chalicelib.core.roster_admin import audit_expiry

    now = runtime.now()
    entry = admin.audit_entry(
        actor,
        action="token.revoke",
        target_type="token",
        target_id=token_id,
        at=now,
        fields=["revoked_at"],
    )
    store = runtime.admin_store()
    store.revoke_token(token_id, iso(now), entry, audit_expiry(get_settings(), now))
    return ok({"tokens": store.list_tokens()})


@admin_route(
    bp,
    "/admin/audit",
    method="GET",
    role="admin",
    summary="The audit log of a month, newest first (paged)",
    query=AuditQuery,
    response=AuditPage,
)
def audit_log(actor: admin.Actor) -> Response:
    query: AuditQuery = parse_query(bp.current_request, AuditQuery)
    records, after = runtime.admin_store().audit_log(
        query.month, limit=query.limit, start=query.start, now_epoch=int(runtime.now().timestamp())
    )
    return ok({"records": records, "next": after})


@admin_route(
    bp,
    "/admin/audit/{target_type}/{target_id}",
    method="GET",
    role="admin",
    summary="Every audit record about one expert, staff member, token, case or requester",
    response=AuditOf,
)
def audit_of(actor: admin.Actor, target_type: str, target_id: str) -> Response:
    records = runtime.admin_store().audit_of(target_type, target_id, int(runtime.now().timestamp()))
    return ok({"records": records})
