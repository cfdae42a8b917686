"""/admin/reports: the month's figures (from counters kept on write) and the anonymous CSV of its cases."""

from __future__ import annotations

import re
from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict

from chalicelib import runtime
from chalicelib.admin.auth import ADMIN_HEADERS, admin_route, ok
from chalicelib.core.access import Actor
from chalicelib.core.errors import FieldError, InvalidAdminInput

bp = Blueprint(__name__)

# Every Lambda function imports this module and only an admin request uses it:
# the models build their validators on first use (defer_build), and the
# services behind the views are imported inside them (cold start).

_MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


class MonthlyReportOut(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    month: str
    month_label: str
    cases: int
    counts: dict[str, Any]
    lead_times: dict[str, Any]
    basis: dict[str, str]


def _month(value: str) -> str:
    if not _MONTH.match(value):
        raise InvalidAdminInput(
            [
                FieldError(
                    field="month",
                    code="invalid",
                    message="月は「2026-11」の形で指定してください。",
                    message_en="Give the month as YYYY-MM, e.g. 2026-11.",
                    loc=("month",),
                )
            ]
        )
    return value


@admin_route(
    bp,
    "/admin/reports/monthly/{month}",
    method="GET",
    role="staff",
    summary=(
        "A month's figures (cases received that month): counts by requester type, category, "
        "support type, municipality, format, channel, outcome and current status, and lead "
        "times from receipt to first contact, matching and closing (averages and a histogram "
        "in business days)"
    ),
    response=MonthlyReportOut,
)
def monthly_report(actor: Actor, month: str) -> Response:
    from chalicelib.core import monthly as reports

    report = reports.monthly_report(
        runtime.case_store(), _month(month), runtime.directory().deployment
    )
    return ok(report.body)


@admin_route(
    bp,
    "/admin/reports/monthly/{month}/cases.csv",
    method="GET",
    role="staff",
    summary=(
        "The month's cases as CSV without personal data (ids, labels, dates, lead times; "
        "UTF-8 with BOM, CRLF, Japanese headers with column ids)"
    ),
)
def monthly_cases_csv(actor: Actor, month: str) -> Response:
    from chalicelib.core import monthly as reports

    checked = _month(month)
    text = reports.monthly_csv(
        runtime.case_store(),
        checked,
        runtime.directory().deployment,
        int(runtime.now().timestamp()),
    )
    return Response(
        body=text,
        status_code=200,
        headers={
            **ADMIN_HEADERS,
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="dx-desk-cases-{checked}.csv"',
        },
    )
