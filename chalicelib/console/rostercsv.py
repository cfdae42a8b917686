"""The roster as a spreadsheet in the console: download, upload, dry run, apply or cancel.

The same code as /admin/experts.csv and /admin/experts/import (core/rostercsv.py,
core/roster_import.py): the same columns, checks and audit records. The upload
is read as UTF-8 (with or without a BOM) or Shift_JIS, as dx-desk-admin reads
a file. The dry run's page carries the file's text back in its apply form, so
nothing is stored between the two steps; applying plans the file again against
the roster as it then is, and applies nothing if any row is wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Response

from chalicelib import runtime
from chalicelib.console.web import MULTIPART, Ctx, Refused, page, render
from chalicelib.core import access, roster_admin
from chalicelib.core.receipt import JST

if TYPE_CHECKING:
    from chalicelib.core import roster_import

# The CSV and import modules are imported inside the views: only admins' CSV requests
# use them (cold start of every function).

MAX_CSV_CHARS = 1_048_576
ACTION_LABELS = {"create": "新規", "update": "更新", "unchanged": "変更なし"}


def _audit_expiry(ctx: Ctx) -> int:
    return roster_admin.audit_expiry(ctx.desk.settings, ctx.desk.now)


@page(
    "/console/experts.csv",
    summary="名簿CSVのダウンロード（Excel用、UTF-8 BOM付き。連絡先を含む） / The roster as CSV",
    role="admin",
)
def download(ctx: Ctx) -> Response:
    from chalicelib.core import rostercsv

    roster = runtime.roster_store().list_all()
    now = ctx.desk.now
    entry = access.audit_entry(
        ctx.user.actor,  # type: ignore[union-attr]
        action="roster.export",
        target_type="roster",
        target_id="experts",
        at=now,
        detail={"rows": len(roster)},
    )
    runtime.admin_store().put_audit(entry, _audit_expiry(ctx))
    filename = f"experts-{now.astimezone(JST):%Y%m%d}.csv"
    return Response(
        body=rostercsv.export_roster(roster),
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@page(
    "/console/import",
    summary="名簿CSVの取り込み画面 / Upload an edited roster CSV",
    role="admin",
)
def upload_form(ctx: Ctx) -> Response:
    return render(ctx, "import", error="")


def _plan(ctx: Ctx, text: str, *, dry_run: bool) -> roster_import.ImportResult:
    from chalicelib.core import roster_import, rostercsv

    known = rostercsv.KnownIds.of(*roster_admin.known_ids(runtime.directory()))
    parsed = rostercsv.parse_roster(text, known=known, model=roster_admin.ExpertIn)
    return roster_import.import_roster(
        runtime.roster_store(),
        runtime.admin_store().put_audit,
        ctx.user.actor,  # type: ignore[union-attr]
        parsed,
        dry_run=dry_run,
        now=ctx.desk.now,
        settings=ctx.desk.settings,
    )


def _result(ctx: Ctx, text: str, result: roster_import.ImportResult) -> Response:
    from chalicelib.core import roster_import, rostercsv

    message, message_en = roster_import.summary_messages(result)
    return render(
        ctx,
        "import_result",
        422 if result.errors else 200,
        result=result,
        message=message,
        message_en=message_en,
        errors=[error.as_dict() for error in result.errors],
        csv_text=text,
        action_labels=ACTION_LABELS,
        label_of=lambda name: (
            rostercsv.BY_FIELD[name].label if name in rostercsv.BY_FIELD else name
        ),
    )


@page(
    "/console/import",
    method="POST",
    summary="名簿CSVをアップロードして確認する（まだ変更しない） / Upload a roster CSV: the dry run",
    role="admin",
    fields=("file", "csrf"),
    content_type=MULTIPART,
    statuses=(200, 403, 413, 422),
)
def upload(ctx: Ctx) -> Response:
    from chalicelib.core import rostercsv

    upload = ctx.files.get("file")
    if upload is None or not upload.data:
        return render(
            ctx, "import", 422, error="CSVファイルを選んでください。 / Choose a CSV file."
        )
    text = rostercsv.decode_upload(upload.data)
    if text is None:
        return render(
            ctx,
            "import",
            422,
            error="文字コードを判別できません。Excel で「CSV UTF-8（コンマ区切り）」か「CSV（コンマ区切り）」"
            "で保存し直してください。 / The file is neither UTF-8 nor Shift_JIS.",
        )
    if len(text) > MAX_CSV_CHARS:
        raise Refused(
            413, "ファイルが大きすぎます", "ファイルを分けてください。何も変更されていません。"
        )
    return _result(ctx, text, _plan(ctx, text, dry_run=True))


@page(
    "/console/import/apply",
    method="POST",
    summary="確認した名簿CSVを反映する（すべて反映か、何もしないか） / Apply the checked roster CSV "
    "(all or nothing)",
    role="admin",
    fields=("csv", "csrf"),
    statuses=(200, 403, 413, 422),
)
def apply(ctx: Ctx) -> Response:
    text = ctx.get("csv")
    if not text or len(text) > MAX_CSV_CHARS:
        raise Refused(
            422, "取り込む内容がありません", "もう一度ファイルをアップロードしてください。"
        )
    return _result(ctx, text, _plan(ctx, text, dry_run=False))
