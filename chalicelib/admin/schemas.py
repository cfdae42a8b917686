"""Request and response models of the admin API (the source of /openapi.json's admin part)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core.roster import Expert, ExpertProfile

# The input model and the list filters live with the roster rules (the console uses them too).
from chalicelib.core.roster_admin import ExpertFilters, ExpertId, ExpertIn

__all__ = ["ExpertFilters", "ExpertId", "ExpertIn"]


class AdminModel(BaseModel):
    """Admin models build their validators on first use: the public intake's cold start
    should not pay for the admin API's schemas."""

    model_config = ConfigDict(defer_build=True)


class ExpertOut(AdminModel):
    expert: Expert
    open_cases: int = 0
    last_asked_at: str | None = None


class ExpertList(AdminModel):
    experts: list[ExpertOut]
    count: int


class ExpertStaffOut(AdminModel):
    """What a staff token reads of an expert: the profile without contact addresses."""

    expert: ExpertProfile
    open_cases: int = 0
    last_asked_at: str | None = None


class ExpertStaffList(AdminModel):
    experts: list[ExpertStaffOut]
    count: int


class Changed(AdminModel):
    changed: list[str]


class AuditRecord(AdminModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    audit_id: str
    at: str
    actor: str
    role: str
    token_id: str
    request_id: str
    action: str
    target_type: str
    target_id: str
    fields: list[str]


class AuditPage(AdminModel):
    records: list[AuditRecord]
    next: str | None = None


class AuditQuery(AdminModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    # The desk's century, as the monthly reports take it (api/admin/reports.py).
    month: Annotated[str, Field(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$")]
    # The `next` of the page before: an audit record's sort key (time#audit id).
    start: Annotated[
        str | None,
        Field(pattern=r"^20\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#[0-9a-f]{32}$"),
    ] = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class AuditOf(AdminModel):
    records: list[AuditRecord]


class Me(AdminModel):
    actor: str
    role: str
    token_id: str


class TokenIn(AdminModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    role: Literal["admin", "staff"]
    actor: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
    valid_days: Annotated[int, Field(ge=1, le=730)] = 365


class TokenIssued(AdminModel):
    token: str
    token_id: str
    role: str
    actor: str
    valid_until: int


class TokenRecord(AdminModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    token_id: str
    role: str
    actor: str
    created_at: str
    valid_until: int | None = None
    revoked_at: str | None = None


class TokenList(AdminModel):
    tokens: list[TokenRecord]
