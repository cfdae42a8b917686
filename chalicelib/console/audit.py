"""The audit log in the console: a month's records, newest first, a page at a time (admins).

The same records as GET /admin/audit: who (the person's display name, or a token's label),
what, to which target, when; changed field names, never values."""

from __future__ import annotations

import re

from chalice.app import Response

from chalicelib import runtime
from chalicelib.console.web import Ctx, page, render
from chalicelib.core.receipt import JST

MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")
START = re.compile(r"^20\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#[0-9a-f]{32}$")
PAGE_SIZE = 50

ACTION_LABELS = {
    "expert.create": "専門家の登録",
    "expert.update": "専門家の更新",
    "expert.deactivate": "専門家の無効化",
    "expert.activate": "専門家の有効化",
    "roster.export": "名簿CSVのダウンロード",
    "roster.import": "名簿CSVの取り込み",
    "staff.create": "職員の登録",
    "staff.update": "職員の更新",
    "staff.deactivate": "職員の無効化",
    "staff.activate": "職員の有効化",
    "taxonomy.update": "分野・支援の種類の更新",
    "token.bootstrap": "トークンの初期登録",
    "token.issue": "トークンの発行",
    "token.revoke": "トークンの失効",
    "requester.export": "個人データの開示（書き出し）",
    "requester.erase": "個人データの消去",
}


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    if action.startswith("case."):
        return "案件の操作"
    return action


def field_label(name: str) -> str:
    from chalicelib.core.rostercsv import BY_FIELD

    column = BY_FIELD.get(name)
    return column.label if column else name


@page(
    "/console/audit",
    summary="監査ログ（月ごと、新しい順） / The audit log of a month, newest first",
    role="admin",
    statuses=(200, 422),
)
def audit_log(ctx: Ctx) -> Response:
    month = ctx.query("month") or ctx.desk.now.astimezone(JST).strftime("%Y-%m")
    start = ctx.query("start") or None
    error = ""
    if not MONTH.match(month) or (start is not None and not START.match(start)):
        error = "月は 2026-12 のように指定してください。 / Give the month as YYYY-MM."
        month, start = ctx.desk.now.astimezone(JST).strftime("%Y-%m"), None
    records, after = runtime.admin_store().audit_log(
        month, limit=PAGE_SIZE, start=start, now_epoch=int(ctx.desk.now.timestamp())
    )
    return render(
        ctx,
        "audit",
        422 if error else 200,
        month=month,
        records=records,
        after=after,
        first_page=start is None,
        error=error,
        action_label=action_label,
        field_label=field_label,
    )
