"""/admin/experts.csv and /admin/experts/import: the roster as a spreadsheet, admins only.

Both are admin-only: the file carries the experts' contact addresses
(personal data), and staff may not export personal data. Each export is
audited ("roster.export", with the row count). The format is described in
core/rostercsv.py and docs/api.md "Roster CSV".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib import runtime
from chalicelib.admin.auth import (
    ADMIN_HEADERS,
    MAX_ADMIN_BODY,
    admin_route,
    ok,
    parse_body,
    parse_query,
)
from chalicelib.admin.routes import experts
from chalicelib.admin.schemas import ExpertIn
from chalicelib.core import access as admin
from chalicelib.core.receipt import JST
from chalicelib.runtime import get_settings

if TYPE_CHECKING:
    from chalicelib.core import roster_import

bp = Blueprint(__name__)

# Every Lambda function imports this module and only an admin request uses it:
# the models build their validators on first use (defer_build), and the
# services behind the views are imported inside them (cold start).

CSV_TYPE = "text/csv"


class ImportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    dry_run: Literal["true", "false"] = "true"


class ImportJson(BaseModel):
    """The same file inside JSON, for clients that cannot send text/csv."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    csv: Annotated[str, Field(max_length=MAX_ADMIN_BODY)]


class RowErrorOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    row: int
    field: str
    column: str
    code: str
    message: str
    message_en: str


class ChangeOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    row: int
    expert_id: str
    action: Literal["create", "update", "unchanged"]
    fields: list[str]


class ImportOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    dry_run: bool
    applied: bool
    rows: int
    counts: dict[str, int]
    changes: list[ChangeOut]
    not_in_file: list[str]
    errors: list[RowErrorOut]
    message: str
    message_en: str


def _write_audit(entry: dict[str, Any], expires: int) -> None:
    """An audit record on its own (an export, an import's summary): one put, conditional."""
    runtime.admin_store().put_audit(entry, expires)


def _refuse(status: int, code: str, message: str, message_en: str) -> Response:
    return ok({"error": code, "message": message, "message_en": message_en}, status=status)


def _csv_text() -> str | Response:
    """The uploaded file as text, or the answer that refuses it."""
    request = bp.current_request
    raw = request.raw_body or b""
    if len(raw) > MAX_ADMIN_BODY:
        return _refuse(
            413,
            "body_too_large",
            f"ファイルが大きすぎます（{MAX_ADMIN_BODY // 1_048_576} MBまで）。ファイルを分けてください。",
            f"The file is larger than {MAX_ADMIN_BODY} bytes; split it.",
        )
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != CSV_TYPE:
        body: ImportJson = parse_body(request, ImportJson)
        text = body.csv
    else:
        try:
            text = (raw if isinstance(raw, bytes) else raw.encode("utf-8")).decode("utf-8-sig")
        except UnicodeDecodeError:
            text = "\ufffd"
    if "\ufffd" in text:
        # A replacement character: the file was not UTF-8 (Excel's plain
        # "CSV" is Shift_JIS) and something on the way substituted bytes.
        return _refuse(
            400,
            "not_utf8",
            "UTF-8 で保存したCSVを送ってください（Excel では「CSV UTF-8（コンマ区切り）」）。dx-desk-admin は Shift_JIS のファイルも変換して送ります。",
            "Send the CSV as UTF-8 (Excel: 'CSV UTF-8'); dx-desk-admin converts Shift_JIS files itself.",
        )
    return text


def _result_body(result: roster_import.ImportResult) -> dict[str, Any]:
    from chalicelib.core.roster_import import summary_messages

    message, message_en = summary_messages(result)
    body: dict[str, Any] = {
        "dry_run": result.dry_run,
        "applied": result.applied,
        "rows": result.rows,
        "counts": result.counts(),
        "changes": [change.as_dict() for change in result.changes],
        "not_in_file": result.not_in_file,
        "errors": [error.as_dict() for error in result.errors],
        "message": message,
        "message_en": message_en,
    }
    if result.errors:
        body = {"error": "validation_error", **body}
    return body


@admin_route(
    bp,
    "/admin/experts.csv",
    method="GET",
    role="admin",
    summary="The whole roster as CSV for Excel (UTF-8 with BOM; contains contact addresses)",
)
def export_roster(actor: admin.Actor) -> Response:
    from chalicelib.core import rostercsv
    from chalicelib.core.roster_admin import audit_expiry

    roster = runtime.roster_store().list_all()
    now = runtime.now()
    entry = admin.audit_entry(
        actor,
        action="roster.export",
        target_type="roster",
        target_id="experts",
        at=now,
        detail={"rows": len(roster)},
    )
    _write_audit(entry, audit_expiry(get_settings(), now))
    filename = f"experts-{now.astimezone(JST):%Y%m%d}.csv"
    headers: dict[str, str | list[str]] = {
        **ADMIN_HEADERS,
        "Content-Type": f"{CSV_TYPE}; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{filename}"',
    }
    return Response(body=rostercsv.export_roster(roster), status_code=200, headers=headers)


@admin_route(
    bp,
    "/admin/experts/import",
    method="POST",
    role="admin",
    summary=(
        "Import the roster CSV (dry_run=true by default; all or nothing; "
        "experts missing from the file are kept)"
    ),
    query=ImportQuery,
    response=ImportOut,
    content_types=[CSV_TYPE, "application/json"],
)
def import_roster(actor: admin.Actor) -> Response:
    from chalicelib.core import roster_import, rostercsv

    query: ImportQuery = parse_query(bp.current_request, ImportQuery)
    text = _csv_text()
    if isinstance(text, Response):
        return text
    parsed = rostercsv.parse_roster(
        text, known=rostercsv.KnownIds.of(*experts._known_ids()), model=ExpertIn
    )
    result = roster_import.import_roster(
        runtime.roster_store(),
        _write_audit,
        actor,
        parsed,
        dry_run=query.dry_run == "true",
        now=runtime.now(),
        settings=get_settings(),
    )
    status = 422 if result.errors else 200
    return ok(_result_body(result), status=status)
