"""Use cases: a month's report (from its counters) and the anonymous CSV of its cases.

The API (/admin/reports) and the monthly mail (scheduled/jobs.py) both call
`monthly_report`, so what the desk manager reads by mail and what the API
answers come from one read and one function.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any, Protocol

from chalicelib.core import report as report_rules
from chalicelib.core import report_charts as report_charts_rules
from chalicelib.core import survey as survey_rules
from chalicelib.core.deployment import Deployment


class CounterStore(Protocol):
    def month_counters(self, month: str) -> dict[str, int]: ...


class ReportStore(CounterStore, Protocol):
    def month_cases(
        self, month: str, attributes: tuple[str, ...], now_epoch: int
    ) -> list[dict[str, Any]]: ...


def labels_of(deployment: Deployment | None) -> dict[str, Mapping[str, report_rules.LabelLike]]:
    """The deployment's lists by report dimension (no labels: ids stand for themselves)."""
    if deployment is None:
        return {}
    return {
        "requester_type": deployment.requester_types,
        "category": deployment.categories,
        "support_type": deployment.support_types,
        "municipality": deployment.municipalities,
        "preferred_format": deployment.preferred_formats,
    }


def monthly_report(
    store: CounterStore, month: str, deployment: Deployment | None = None
) -> report_rules.MonthlyReport:
    """The month's figures: one Query of its counter shards, never a read of its cases."""
    return report_rules.monthly_report(month, store.month_counters(month), labels_of(deployment))


def survey_csv(report: report_rules.MonthlyReport) -> str:
    """The month's survey figures as CSV (UTF-8 BOM, CRLF): counts and rates in total, by
    category, by expert and for the follow-up; never an answer, a comment or a receipt number."""
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens a UTF-8 file as UTF-8 only with a BOM.
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(report_rules.survey_csv_rows(report.month, report.body["survey"]))
    return out.getvalue()


def monthly_csv(store: ReportStore, month: str, deployment: Deployment, now_epoch: int) -> str:
    """The month's cases as CSV text: UTF-8 BOM, CRLF line ends, Japanese headers with ids.

    The rows carry ids, labels, dates and lead times only: the Query reads
    just report.CSV_ATTRIBUTES, so names, addresses, phone numbers,
    organisations and free text are never even fetched.
    """
    cases = store.month_cases(month, report_rules.CSV_ATTRIBUTES, now_epoch)
    cases.sort(key=lambda case: (str(case.get("created_at", "")), str(case["receipt_number"])))
    labels = labels_of(deployment)
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens a UTF-8 file as UTF-8 only with a BOM.
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(report_rules.csv_header())
    for case in cases:
        writer.writerow(report_rules.csv_row(case, labels))
    return out.getvalue()


def report_charts(
    store: ReportStore,
    month: str,
    deployment: Deployment | None,
    now_epoch: int,
    satisfaction: Mapping[str, tuple[int, int]] | None = None,
) -> report_charts_rules.ReportCharts:
    """The report's charts for the twelve months ending with `month`.

    Reads each month's counters (one Query each) and its cases' milestone
    stamps only (report_charts.LEAD_ATTRIBUTES: no personal data), for the
    lead-time medians and 90th percentiles the counters cannot give.
    `satisfaction` is {month: (top_two, responses)}; by default the survey's counters.
    """
    months = report_charts_rules.months_ending(month)
    counters = {m: store.month_counters(m) for m in months}
    cases = {
        m: store.month_cases(m, report_charts_rules.LEAD_ATTRIBUTES, now_epoch) for m in months
    }
    if satisfaction is None:
        satisfaction = survey_rules.satisfaction_by_month(counters)
    return report_charts_rules.report_charts(
        month, counters, cases, labels_of(deployment), satisfaction
    )
