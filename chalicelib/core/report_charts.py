"""The monthly report's charts (pure): twelve months of counters and case milestones → charts.

The figures mean what the monthly report says they mean (core/report.py):
months are the months cases were RECEIVED; category and requester type are
the desk's current classification; lead times run from receipt, in business
days. Counts come from the months' counters; lead-time medians and 90th
percentiles need each case's own lead time, so they come from the cases'
milestone stamps (ids and dates only: LEAD_ATTRIBUTES, no personal data).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.core.case import ENDED_FIELD, MILESTONE_FIELDS
from chalicelib.core.charts import (
    NO_VALUE,
    PALETTE,
    Chart,
    ChartView,
    Point,
    Series,
    Table,
    draw,
    format_number,
)
from chalicelib.core.report import LEAD_LABELS, LabelLike, Text, case_leads, dimension_rows

MONTHS = 12
# What the lead-time chart reads of a case: enough for core.report.case_leads, nothing personal.
LEAD_ATTRIBUTES: tuple[str, ...] = (
    "receipt_number",
    "created_at",
    "status",
    *MILESTONE_FIELDS.values(),
    ENDED_FIELD,
)
# The lead times charted: to the first expert introduction (an expert accepted and the
# requester and expert were introduced) and to 完了.
CHARTED_LEADS = ("matched", "closed")
SATISFACTION_TICKS = (0.0, 25.0, 50.0, 75.0, 100.0)

CASES = Text("件", "cases")
BUSINESS_DAYS = Text("営業日", "business days")
PERCENT = Text("%", "percent")
MEDIAN = Series(Text("中央値", "Median"), PALETTE[0])
P90 = Series(Text("90パーセンタイル", "90th percentile"), PALETTE[1])
COUNT = Series(Text("件数", "Cases"), PALETTE[0])
SHARE = Series(Text("上位2つの回答の割合", "Share of the top two answers"), PALETTE[0])


@dataclass(frozen=True)
class LeadStat:
    month: str
    count: int  # cases received that month that reached the milestone
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Satisfaction:
    month: str
    top_two: int
    responses: int

    @property
    def share(self) -> float | None:
        return round(100 * self.top_two / self.responses, 1) if self.responses else None


@dataclass(frozen=True)
class ReportCharts:
    month: str
    months: tuple[str, ...]
    period: Text
    charts: tuple[ChartView, ...]


# -- months ----------------------------------------------------------------------


def months_ending(month: str, count: int = MONTHS) -> tuple[str, ...]:
    """The `count` months up to and including `month` ("YYYY-MM"), oldest first."""
    year, _, number = month.partition("-")
    index = int(year) * 12 + int(number) - 1
    if count < 1:
        raise ValueError("count must be at least 1")
    return tuple(
        f"{position // 12:04d}-{position % 12 + 1:02d}"
        for position in range(index - count + 1, index + 1)
    )


def month_name(month: str) -> str:
    year, _, number = month.partition("-")
    return f"{int(year)}年{int(number)}月"


def _month_points(
    months: Sequence[str], values: Sequence[tuple[float | None, ...]]
) -> tuple[Point, ...]:
    points = []
    for index, (month, row) in enumerate(zip(months, values, strict=True)):
        year, _, number = month.partition("-")
        first_of_year = index == 0 or number == "01"
        points.append(
            Point(month, f"{int(number)}月", row, f"{int(year)}年" if first_of_year else "")
        )
    return tuple(points)


def _period(months: Sequence[str], *, received: bool = True) -> Text:
    first, last = months[0], months[-1]
    if not received:
        return Text(f"{month_name(first)}〜{month_name(last)}", f"{first} to {last}")
    return Text(
        f"{month_name(first)}〜{month_name(last)}（受付月）",
        f"{first} to {last}, by month received",
    )


# -- aggregations (pure) ------------------------------------------------------------


def monthly_totals(counters: Mapping[str, Mapping[str, int]], months: Sequence[str]) -> list[int]:
    """Cases received in each month (0 for a month without counters)."""
    return [int(counters.get(month, {}).get("cases", 0)) for month in months]


def summed_counters(
    counters: Mapping[str, Mapping[str, int]], months: Sequence[str]
) -> dict[str, int]:
    total: dict[str, int] = {}
    for month in months:
        for name, value in counters.get(month, {}).items():
            total[name] = total.get(name, 0) + int(value)
    return total


def median(values: Sequence[int]) -> float | None:
    return float(statistics.median(values)) if values else None


def percentile(values: Sequence[int], share: float) -> float | None:
    """Nearest rank: the smallest value at least `share` of the cases are within (a real case's)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return float(ordered[rank - 1])


def lead_stats(
    cases: Mapping[str, Sequence[Mapping[str, Any]]], months: Sequence[str], name: str
) -> list[LeadStat]:
    """Per receipt month: how many cases reached milestone `name`, the median and 90th
    percentile of their business days from receipt (None where none reached it)."""
    found = []
    for month in months:
        days = [
            lead[1]
            for case in cases.get(month, ())
            if (lead := case_leads(case).get(name)) is not None
        ]
        found.append(LeadStat(month, len(days), median(days), percentile(days, 0.9)))
    return found


def satisfaction_by_month(
    answers: Mapping[str, tuple[int, int]] | None, months: Sequence[str]
) -> list[Satisfaction]:
    """{month: (top_two, responses)} → one entry per month (0 responses where none)."""
    given = answers or {}
    found = []
    for month in months:
        top_two, responses = given.get(month, (0, 0))
        if responses < 0 or top_two < 0 or top_two > responses:
            raise ValueError(
                f"satisfaction for {month}: {top_two} top-two answers of {responses} responses"
            )
        found.append(Satisfaction(month, int(top_two), int(responses)))
    return found


# -- the charts ----------------------------------------------------------------------


def _both(label: Text) -> str:
    return f"{label.ja} / {label.en}"


def cases_by_month_chart(months: Sequence[str], totals: Sequence[int]) -> Chart:
    total = sum(totals)
    title = Text("月別の相談件数", "Cases by month")
    table = Table(
        caption=f"{title.ja}（{_period(months).ja}）",
        headers=("受付月 / Month", "件数 / Cases"),
        rows=tuple((month_name(m), format_number(n)) for m, n in zip(months, totals, strict=True)),
    )
    highest = max(totals, default=0)
    peaks = "、".join(month_name(m) for m, n in zip(months, totals, strict=True) if n == highest)
    each = "、".join(
        f"{month_name(m)} {format_number(n)}件" for m, n in zip(months, totals, strict=True)
    )
    description = (
        f"{_period(months).ja}に受け付けた相談は合計{format_number(total)}件。"
        f"最も多いのは{peaks}の{format_number(highest)}件。月別：{each}。"
    )
    return Chart(
        id="chart-cases-by-month",
        kind="columns",
        title=title,
        description=description,
        unit=CASES,
        series=(COUNT,),
        points=_month_points(months, [(float(n),) for n in totals]),
        table=table,
        empty=None
        if total
        else Text(
            "この12か月に受け付けた相談はありません。", "No cases received in these 12 months."
        ),
    )


def breakdown_chart(
    chart_id: str, title: Text, heading: Text, rows: Sequence[Mapping[str, Any]], period: Text
) -> Chart:
    """Horizontal bars of one report dimension (rows as core.report.dimension_rows gives them)."""
    total = sum(int(row["count"]) for row in rows)

    def share(count: int) -> str:
        return format_number(100 * count / total, "%") if total else "0%"

    def name(row: Mapping[str, Any]) -> str:
        ja, en = str(row["label"]), str(row["label_en"])
        return f"{ja}（{en}）" if en and en != ja else ja

    table = Table(
        caption=f"{title.ja}（{period.ja}）",
        headers=(_both(heading), "件数 / Cases", "割合 / Share"),
        rows=tuple(
            (name(row), format_number(int(row["count"])), share(int(row["count"]))) for row in rows
        ),
    )
    each = "、".join(f"{row['label']} {format_number(int(row['count']))}件" for row in rows)
    description = f"{period.ja}の{title.ja}。合計{format_number(total)}件：{each}。"
    return Chart(
        id=chart_id,
        kind="bars",
        title=title,
        description=description,
        unit=CASES,
        series=(COUNT,),
        points=tuple(
            Point(str(row["id"]), str(row["label"]), (float(row["count"]),)) for row in rows
        ),
        table=table,
        empty=None
        if total
        else Text(
            "この12か月に受け付けた相談はありません。", "No cases received in these 12 months."
        ),
    )


def lead_chart(name: str, stats: Sequence[LeadStat]) -> Chart:
    label = LEAD_LABELS[name]
    title = Text(f"{label.ja}の営業日数", f"{label.en}, business days")
    months = [stat.month for stat in stats]

    def shown(value: float | None) -> str:
        return format_number(value) if value is not None else NO_VALUE

    table = Table(
        caption=f"{title.ja}（{_period(months).ja}）",
        headers=(
            "受付月 / Month",
            "到達した件数 / Cases",
            "中央値（営業日） / Median (business days)",
            "90パーセンタイル（営業日） / 90th percentile (business days)",
        ),
        rows=tuple(
            (month_name(s.month), format_number(s.count), shown(s.median), shown(s.p90))
            for s in stats
        ),
    )
    reached = [s for s in stats if s.count]
    each = "、".join(
        f"{month_name(s.month)} 中央値{shown(s.median)}・90パーセンタイル{shown(s.p90)}営業日"
        f"（{format_number(s.count)}件）"
        for s in reached
    )
    missing = [month_name(s.month) for s in stats if not s.count]
    description = (
        f"{_period(months).ja}の{label.ja}の営業日数（受付月別、中央値と90パーセンタイル）。{each}。"
        + (f"該当する案件のない月：{'、'.join(missing)}。" if missing else "")
    )
    return Chart(
        id=f"chart-lead-{name}",
        kind="columns",
        title=title,
        description=description,
        unit=BUSINESS_DAYS,
        series=(MEDIAN, P90),
        points=_month_points(months, [(s.median, s.p90) for s in stats]),
        table=table,
        integer=False,
        note=Text(
            "受付月ごとの集計です。まだこの段階に至っていない案件は含まないため、最近の月は"
            "早く進んだ案件だけの値になります。「–」はその月に該当する案件がないことを示します。"
            "90パーセンタイルは、9割の案件がその日数以内だったことを示します。",
            "By month received. Cases that have not reached this step are not included, so "
            "recent months show only the faster cases. “–”: no case of that month reached it. "
            "90% of the cases took at most the 90th percentile.",
        ),
        empty=None
        if reached
        else Text(
            f"この12か月に受け付けた案件で「{label.ja}」に至ったものはまだありません。",
            f"No case received in these 12 months has reached this step yet ({label.en}).",
        ),
    )


def satisfaction_chart(entries: Sequence[Satisfaction]) -> Chart:
    title = Text("満足度（上位2つの回答の割合）", "Satisfaction (share of the top two answers)")
    months = [entry.month for entry in entries]
    period = _period(months, received=False)

    def share(entry: Satisfaction) -> str:
        value = entry.share
        return format_number(value, "%") if value is not None else NO_VALUE

    table = Table(
        caption=f"{title.ja}（{period.ja}）",
        headers=(
            "月 / Month",
            "上位2つの回答 / Top two answers",
            "回答数 / Responses",
            "割合 / Share",
        ),
        rows=tuple(
            (
                month_name(e.month),
                format_number(e.top_two),
                format_number(e.responses),
                share(e),
            )
            for e in entries
        ),
    )
    answered = [e for e in entries if e.responses]
    responses = sum(e.responses for e in answered)
    top_two = sum(e.top_two for e in answered)
    each = "、".join(
        f"{month_name(e.month)} {share(e)}（{format_number(e.responses)}件中{format_number(e.top_two)}件）"
        for e in answered
    )
    overall = format_number(100 * top_two / responses, "%") if responses else NO_VALUE
    silent = [month_name(e.month) for e in entries if not e.responses]
    description = (
        f"{period.ja}の満足度アンケートで上位2つの回答を選んだ割合。"
        f"全体で{overall}（{format_number(responses)}件中{format_number(top_two)}件）。{each}。"
        + (f"回答のない月：{'、'.join(silent)}。" if silent else "")
    )
    return Chart(
        id="chart-satisfaction",
        kind="columns",
        title=title,
        description=description,
        unit=PERCENT,
        series=(SHARE,),
        points=_month_points(months, [(e.share,) for e in entries]),
        table=table,
        suffix="%",
        fixed_ticks=SATISFACTION_TICKS,
        integer=False,
        note=Text(
            "「–」はその月に回答がないことを示します。回答数の少ない月の割合は大きく振れます。",
            "“–”: no answers that month. Months with few answers swing widely.",
        ),
        empty=None
        if answered
        else Text(
            "満足度アンケートの回答はまだありません。", "No satisfaction survey answers yet."
        ),
    )


def report_charts(
    month: str,
    counters: Mapping[str, Mapping[str, int]],
    cases: Mapping[str, Sequence[Mapping[str, Any]]],
    labels: Mapping[str, Mapping[str, LabelLike]] | None = None,
    satisfaction: Mapping[str, tuple[int, int]] | None = None,
) -> ReportCharts:
    """Every chart of the report for the twelve months ending with `month`.

    `counters`: {month: that month's counters}; `cases`: {month: its cases
    with LEAD_ATTRIBUTES}; `labels`: the deployment's lists by dimension
    (core.monthly.labels_of); `satisfaction`: {month: (top_two, responses)}.
    """
    months = months_ending(month)
    period = _period(months)
    total = summed_counters(counters, months)
    views = [
        cases_by_month_chart(months, monthly_totals(counters, months)),
        breakdown_chart(
            "chart-by-category",
            Text("相談分野別の件数", "Cases by category"),
            Text("相談分野", "Category"),
            dimension_rows("category", total, labels),
            period,
        ),
        breakdown_chart(
            "chart-by-requester-type",
            Text("相談者区分別の件数", "Cases by requester type"),
            Text("相談者区分", "Requester type"),
            dimension_rows("requester_type", total, labels),
            period,
        ),
        *(lead_chart(name, lead_stats(cases, months, name)) for name in CHARTED_LEADS),
        satisfaction_chart(satisfaction_by_month(satisfaction, months)),
    ]
    return ReportCharts(month, months, period, tuple(draw(chart) for chart in views))
