"""The monthly report in the console: the month's figures as tables (core/monthly.py, the
same read as /admin/reports and the monthly mail) and the anonymous CSV of its cases.

Charts: the twelve months up to the report's month, drawn on the server as SVG with
their data tables (core/report_charts.py, templates/charts/_charts.html): no script.
"""

from __future__ import annotations

import re

from chalice.app import Response

from chalicelib import runtime
from chalicelib.console.web import Ctx, page, render
from chalicelib.core.receipt import JST

MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


def _month(ctx: Ctx) -> tuple[str, str]:
    given = ctx.query("month")
    this_month = ctx.desk.now.astimezone(JST).strftime("%Y-%m")
    if not given:
        return this_month, ""
    if not MONTH.match(given):
        return this_month, "月は 2026-11 のように指定してください。 / Give the month as YYYY-MM."
    return given, ""


@page(
    "/console/report",
    summary="月次報告（件数・内訳・所要日数、グラフ） / The monthly report",
    role="staff",
    statuses=(200, 422),
)
def report_page(ctx: Ctx) -> Response:
    from chalicelib.core import monthly  # only report requests read it (cold start)

    month, error = _month(ctx)
    store = runtime.case_store()
    report = monthly.monthly_report(store, month, ctx.desk.deployment)
    charts = monthly.report_charts(store, month, ctx.desk.deployment, int(ctx.desk.now.timestamp()))
    return render(
        ctx,
        "report",
        422 if error else 200,
        month=month,
        error=error,
        report=report.body,
        charts=charts,
    )


@page(
    "/console/report/cases.csv",
    summary="月次報告の案件一覧CSV（個人情報なし） / The month's cases as CSV, without "
    "personal data",
    role="staff",
    statuses=(200,),
)
def report_csv(ctx: Ctx) -> Response:
    from chalicelib.core import monthly

    month, _ = _month(ctx)
    text = monthly.monthly_csv(
        runtime.case_store(), month, ctx.desk.deployment, int(ctx.desk.now.timestamp())
    )
    return Response(
        body=text,
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="dx-desk-cases-{month}.csv"',
        },
    )
