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
    survey: dict[str, Any]


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
        "support type, municipality, format, channel, outcome and current status, lead "
        "times from receipt to first contact, matching and closing (averages and a histogram "
        "in business days), and the satisfaction survey's figures"
    ),
    response=MonthlyReportOut,
)
def monthly_report(actor: Actor, month: str) -> Response:
    from chalicelib.core import monthly as reports

    report = reports.monthly_report(
        runtime.case_store(), _month(month), runtime.directory().deployment
    )
    _name_experts(report.body["survey"]["by_expert"])
    return ok(report.body)


def _name_experts(rows: list[dict[str, Any]]) -> None:
    """Label the survey's rows by expert with their display names (the roster is read only
    when the month has such rows; an expert no longer on it keeps its id)."""
    roster = runtime.roster_store()
    for row in rows:
        expert = roster.get(str(row["id"]))
        if expert is not None:
            row["label"] = expert.display_name


@admin_route(
    bp,
    "/admin/reports/monthly/{month}/survey.csv",
    method="GET",
    role="staff",
    summary=(
        "The month's satisfaction survey and follow-up figures as CSV: surveys sent, answers, "
        "response rate, satisfaction (top two answers) and progress rate, in total, by "
        "category and by expert; counts only (no answers, comments or personal data)"
    ),
)
def monthly_survey_csv(actor: Actor, month: str) -> Response:
    from chalicelib.core import monthly as reports

    checked = _month(month)
    report = reports.monthly_report(runtime.case_store(), checked, runtime.directory().deployment)
    _name_experts(report.body["survey"]["by_expert"])
    text = reports.survey_csv(report)
    return Response(
        body=text,
        status_code=200,
        headers={
            **ADMIN_HEADERS,
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="dx-desk-survey-{checked}.csv"',
        },
    )


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
