"""/admin/requesters: personal data requests (disclosure and erasure), admins only.

POST with a JSON body, never a query string: the requester's address must
not land in access logs or URLs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator
from pydantic_core import PydanticCustomError

from chalicelib import runtime
from chalicelib.admin.auth import admin_route, ok, parse_body
from chalicelib.core.access import Actor
from chalicelib.core.consultation import MAX_EMAIL, Email
from chalicelib.runtime import get_settings
from chalicelib.storage.privacy import PrivacyStore

bp = Blueprint(__name__)

# Every Lambda function imports this module and only an admin request uses it:
# the models build their validators on first use (defer_build), and the
# services behind the views are imported inside them (cold start).

ReceiptNumber = Annotated[str, Field(pattern=r"^DX-\d{6}-\d{6}$", max_length=16)]
_ONE_OF: dict[str, JsonValue] = {
    "oneOf": [
        {"required": ["receipt_number"], "not": {"required": ["email"]}},
        {"required": ["email"], "not": {"required": ["receipt_number"]}},
    ]
}


class RequesterIn(BaseModel):
    """Who the request is about: a receipt number, or the address the requester gave."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_OF, defer_build=True)

    receipt_number: ReceiptNumber | None = None
    email: Annotated[Email, Field(max_length=MAX_EMAIL)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RequesterIn:
        if (self.receipt_number is None) == (self.email is None):
            raise PydanticCustomError(
                "receipt_number_or_email", "give either receipt_number or email"
            )
        return self


class EraseIn(RequesterIn):
    """An erasure must be confirmed explicitly: it cannot be undone."""

    confirm: Literal[True]


class RequesterCase(BaseModel):
    """One case as stored, with everything filed under it (key attributes left out)."""

    model_config = ConfigDict(defer_build=True)

    case: dict[str, Any]
    timeline: list[dict[str, Any]]
    mail: list[dict[str, Any]]
    assignments: list[dict[str, Any]]
    inbound: list[dict[str, Any]]
    other: list[dict[str, Any]]


class RequesterExport(BaseModel):
    model_config = ConfigDict(defer_build=True)

    found_by: Literal["receipt_number", "email"]
    requester_digest: str | None
    exported_at: str
    count: int
    cases: list[RequesterCase]


class ErasedCase(BaseModel):
    model_config = ConfigDict(defer_build=True)

    receipt_number: str
    changed: bool
    items: int
    cancelled_mail: int
    removed_fields: list[str]
    anonymised_at: str


class ErasureResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    found_by: Literal["receipt_number", "email"]
    requester_digest: str | None
    erased_at: str
    count: int
    cases: list[ErasedCase]


def _store() -> PrivacyStore:
    return runtime.privacy_store()


@admin_route(
    bp,
    "/admin/requesters/export",
    method="POST",
    role="admin",
    summary="Everything held about a requester (by receipt number or email), audited",
    body=RequesterIn,
    response=RequesterExport,
)
def export_requester(actor: Actor) -> Response:
    from chalicelib.core import privacy_admin as privacy

    request: RequesterIn = parse_body(bp.current_request, RequesterIn)
    result = privacy.export_requester(
        _store(),
        actor,
        receipt_number=request.receipt_number,
        email=request.email,
        now=runtime.now(),
        settings=get_settings(),
    )
    return ok(RequesterExport.model_validate(result).model_dump(mode="json"))


@admin_route(
    bp,
    "/admin/requesters/erase",
    method="POST",
    role="admin",
    summary="Erase a requester's personal data; anonymous statistics and case records remain",
    body=EraseIn,
    response=ErasureResult,
)
def erase_requester(actor: Actor) -> Response:
    from chalicelib.core import privacy_admin as privacy

    request: EraseIn = parse_body(bp.current_request, EraseIn)
    result = privacy.erase_requester(
        _store(),
        actor,
        receipt_number=request.receipt_number,
        email=request.email,
        now=runtime.now(),
        settings=get_settings(),
    )
    return ok(ErasureResult.model_validate(result).model_dump(mode="json"))
