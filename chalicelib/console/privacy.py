"""Personal-data requests in the console (admins): disclosure as a file, and erasure after a
confirmation step. The same use cases as /admin/requesters (core/privacy_admin.py), audited
as the signed-in person. The address travels in the POST body only, never in a URL."""

from __future__ import annotations

import json

from chalice.app import Response

from chalicelib import runtime
from chalicelib.console.web import Ctx, page, render
from chalicelib.core.errors import NotFound
from chalicelib.core.receipt import JST, is_valid_receipt_number

FIELDS = ("receipt_number", "email", "csrf")


def _who(ctx: Ctx) -> tuple[str | None, str | None, str]:
    """(receipt number, address, error): exactly one of the two, well formed."""
    receipt = ctx.get("receipt_number").strip().upper() or None
    email = ctx.get("email").strip() or None
    if (receipt is None) == (email is None):
        return None, None, "受付番号かメールアドレスの、どちらか一方を入力してください。"
    if receipt is not None and not is_valid_receipt_number(receipt):
        return None, None, "受付番号は DX-261126-000010 の形で入力してください。"
    if email is not None and ("@" not in email or len(email) > 254 or " " in email):
        return None, None, "メールアドレスの形式が正しくありません。"
    return receipt, email, ""


def _form(ctx: Ctx, error: str, status: int) -> Response:
    return render(
        ctx,
        "privacy",
        status,
        error=error,
        receipt_number=ctx.get("receipt_number")[:32],
        email=ctx.get("email")[:254],
    )


@page(
    "/console/privacy",
    summary="個人データの開示・消去の依頼 / Personal-data requests (export, erase)",
    role="admin",
)
def privacy_form(ctx: Ctx) -> Response:
    return render(ctx, "privacy", error="", receipt_number="", email="")


@page(
    "/console/privacy/export",
    method="POST",
    summary="相談者の個人データを書き出す（JSONファイル、監査記録あり） / Export a requester's data",
    role="admin",
    fields=FIELDS,
    statuses=(200, 403, 404, 422),
)
def export(ctx: Ctx) -> Response:
    from chalicelib.core import privacy_admin  # only these requests use it (cold start)

    receipt, email, error = _who(ctx)
    if error:
        return _form(ctx, error, 422)
    try:
        result = privacy_admin.export_requester(
            runtime.privacy_store(),
            ctx.user.actor,  # type: ignore[union-attr]
            receipt_number=receipt,
            email=email,
            now=ctx.desk.now,
            settings=ctx.desk.settings,
        )
    except NotFound:
        return _form(ctx, "この受付番号の案件は見つかりません。", 404)
    stamp = ctx.desk.now.astimezone(JST).strftime("%Y%m%d-%H%M")
    return Response(
        body=json.dumps(result, ensure_ascii=False, indent=2, default=str),
        status_code=200,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": f'attachment; filename="requester-export-{stamp}.json"',
        },
    )


@page(
    "/console/privacy/erase",
    method="POST",
    summary="相談者の個人データを消去する（確認画面のあと。統計は残る） / Erase a requester's "
    "data after a confirmation step (statistics remain)",
    role="admin",
    fields=(*FIELDS, "confirm"),
    statuses=(200, 403, 404, 422),
)
def erase(ctx: Ctx) -> Response:
    from chalicelib.core import privacy_admin

    receipt, email, error = _who(ctx)
    if error:
        return _form(ctx, error, 422)
    store = runtime.privacy_store()
    try:
        if ctx.get("confirm") != "1":
            found = privacy_admin.find_requester(
                store, receipt_number=receipt, email=email, now=ctx.desk.now
            )
            return render(
                ctx,
                "privacy_confirm",
                receipts=found.receipts,
                receipt_number=receipt or "",
                email=email or "",
            )
        result = privacy_admin.erase_requester(
            store,
            ctx.user.actor,  # type: ignore[union-attr]
            receipt_number=receipt,
            email=email,
            now=ctx.desk.now,
            settings=ctx.desk.settings,
        )
    except NotFound:
        return _form(ctx, "この受付番号の案件は見つかりません。", 404)
    return render(ctx, "privacy_done", result=result)
