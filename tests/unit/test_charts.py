"""Report charts (pure): axis ticks, numbers, label wrapping, layouts, and the series computed
from months of counters and fictitious cases (zero data, one month, huge values)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import charts, report_charts
from chalicelib.core.charts import Chart, Point, Series, Table, format_number, nice_ticks
from chalicelib.core.deployment import Label
from chalicelib.core.receipt import JST
from chalicelib.core.report import Text, dimension_rows
from chalicelib.core.timefmt import iso

# Monday 2026-11-02 10:00 in Japan; Tuesday 11/3 is 文化の日 (a public holiday).
RECEIVED = datetime(2026, 11, 2, 10, 0, tzinfo=JST)
LABELS: dict[str, dict[str, Any]] = {
    "category": {
        "mindset": Label("意識改革・推進体制", "Mindset"),
        "data": Label("データ利活用", "Data"),
    },
    "requester_type": {"business": Label("事業者", "Businesses"), "city": Label("市町", "Towns")},
}


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def a_case(receipt: str, days_to_match: int | None, days_to_close: int | None) -> dict[str, Any]:
    """A fictitious case received RECEIVED, matched and closed after that many calendar days."""
    case: dict[str, Any] = {
        "receipt_number": receipt,
        "created_at": iso(RECEIVED),
        "status": "received",
    }
    if days_to_match is not None:
        case.update(status="in_progress", matched_at=iso(RECEIVED + timedelta(days=days_to_match)))
    if days_to_close is not None:
        case.update(status="closed", ended_at=iso(RECEIVED + timedelta(days=days_to_close)))
    return case


# -- ticks and numbers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("high", "expected"),
    [
        (0, (0, 1)),
        (-3, (0, 1)),
        (math.nan, (0, 1)),
        (math.inf, (0, 1)),
        (1, (0, 1)),
        (3, (0, 1, 2, 3)),
        (7, (0, 2, 4, 6, 8)),
        (19, (0, 5, 10, 15, 20)),
        (100, (0, 20, 40, 60, 80, 100)),
        (101, (0, 25, 50, 75, 100, 125)),
    ],
)
def test_nice_ticks_for_counts(high: float, expected: tuple[int, ...]) -> None:
    assert nice_ticks(high) == tuple(float(t) for t in expected)


def test_nice_ticks_allow_fractional_steps_for_days() -> None:
    assert nice_ticks(2.2, integer=False) == (0, 0.5, 1.0, 1.5, 2.0, 2.5)
    assert nice_ticks(12.3, integer=False) == (0, 2.5, 5.0, 7.5, 10.0, 12.5)
    # Whole steps only for counts: never "2.5 cases".
    assert nice_ticks(12.3) == (0, 5, 10, 15)


@pytest.mark.parametrize("high", [1, 2, 9, 11, 37, 99, 1234, 98_765, 10**9, 3 * 10**15, 0.3, 7.7])
def test_nice_ticks_cover_the_value_in_a_few_equal_nice_steps(high: float) -> None:
    integer = high == int(high)
    ticks = nice_ticks(high, integer=integer)
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert ticks[0] == 0 and ticks[-1] >= high and ticks[-2] < high
    assert len(steps) == 1 and 2 <= len(ticks) <= 11
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)


def test_format_number_separates_thousands_and_never_shows_nan() -> None:
    assert format_number(0) == "0"
    assert format_number(1234) == "1,234"
    assert format_number(1_234_567_890_123) == "1,234,567,890,123"
    assert format_number(2.5) == "2.5"
    assert format_number(2.0) == "2"
    assert format_number(83.33, "%") == "83.3%"
    with pytest.raises(ValueError):
        format_number(math.nan)


def test_long_labels_wrap_to_two_lines_and_are_cut_with_an_ellipsis() -> None:
    assert charts.wrap("データ利活用", 200, 13) == ("データ利活用",)
    lines = charts.wrap("とても長い相談分野の名前" * 4, 150, 13)
    assert len(lines) == 2 and lines[-1].endswith("…")
    assert all(charts.text_width(line, 13) <= 150 for line in lines)
    assert charts.wrap("", 100, 13) == ("",)


def test_palette_bars_and_text_have_enough_contrast_on_the_background() -> None:
    # WCAG 1.4.11 (graphics: 3:1) for every bar colour; 1.4.3 (text: 4.5:1) for labels.
    for colour in (*charts.PALETTE, charts.AXIS):
        assert contrast(colour, charts.BACKGROUND) >= 3, colour
    for colour in (charts.TEXT, charts.MUTED_TEXT):
        assert contrast(colour, charts.BACKGROUND) >= 4.5, colour


def test_a_chart_refuses_values_that_are_not_figures() -> None:
    table = Table("t", ("a",), ())
    for bad in (math.nan, -1.0, math.inf):
        with pytest.raises(ValueError):
            Chart(
                "c", "columns", Text("t", "t"), "", Text("件", "cases"),
                (Series(Text("件数", "Cases"), "#0072B2"),), (Point("2026-11", "11月", (bad,)),),
                table,
            )  # fmt: skip


# -- layouts ---------------------------------------------------------------------


def column_chart(values: Sequence[float | None], **extra: Any) -> Chart:
    months = report_charts.months_ending("2026-11", len(values))
    return Chart(
        id="c",
        kind="columns",
        title=Text("t", "t"),
        description="",
        unit=Text("件", "cases"),
        series=(Series(Text("件数", "Cases"), "#0072B2"),),
        points=tuple(Point(m, m, (v,)) for m, v in zip(months, values, strict=True)),
        table=Table("t", ("a",), ()),
        **extra,
    )


@pytest.mark.parametrize("values", [[3, 0, 7, 12, 1], [1], [10**9, 5 * 10**8, 1]])
def test_column_heights_are_proportional_to_the_values_from_one_baseline(
    values: list[float],
) -> None:
    drawing = charts.column_drawing(column_chart(values))
    bars = drawing.bars
    assert [bar.value for bar in bars] == values
    baseline = {round(bar.y + bar.height, 1) for bar in bars}
    assert len(baseline) == 1
    tallest = max(values)
    top = max(bar.height for bar in bars)
    for bar, value in zip(bars, values, strict=True):
        assert bar.height == pytest.approx(top * value / tallest, abs=0.11)
    # Columns never overlap and stay inside the view box.
    for left, right in itertools.pairwise(bars):
        assert left.x + left.width < right.x
    assert all(bar.x >= 0 and bar.x + bar.width <= drawing.width for bar in bars)


def test_huge_values_get_separated_tick_labels_and_no_value_labels_that_would_not_fit() -> None:
    drawing = charts.column_drawing(column_chart([123_456_789.0] * 12))
    texts = [line for label in drawing.labels for line in label.lines]
    assert "125,000,000" in texts  # ticks 0, 25,000,000, ... 125,000,000
    assert "123,456,789" not in texts  # too wide for a column: the table has it


def test_a_month_without_a_value_shows_a_dash_not_a_zero_bar() -> None:
    drawing = charts.column_drawing(column_chart([4, None, 2]))
    assert [bar.value for bar in drawing.bars] == [4, 2]
    assert sum(label.lines == (charts.NO_VALUE,) for label in drawing.labels) == 1


def test_december_and_january_side_by_side_show_only_the_new_year() -> None:
    chart = column_chart([1] * 12)  # 2025-12 … 2026-11
    points = report_charts._month_points([p.key for p in chart.points], [(1.0,)] * 12)
    assert (points[0].group_label, points[1].group_label) == ("2025年", "2026年")
    drawing = charts.column_drawing(dataclasses.replace(chart, points=points))
    years = [label.lines[0] for label in drawing.labels if label.lines[0].endswith("年")]
    assert years == ["2026年"]  # "2025年" would run into it; the period names both years


def test_bar_lengths_are_proportional_and_zero_draws_no_length() -> None:
    chart = Chart(
        id="b",
        kind="bars",
        title=Text("t", "t"),
        description="",
        unit=Text("件", "cases"),
        series=(Series(Text("件数", "Cases"), "#0072B2"),),
        points=tuple(Point(str(i), f"分野{i}", (float(v),)) for i, v in enumerate([5, 0, 20, 10])),
        table=Table("t", ("a",), ()),
    )
    drawing = charts.bar_drawing(chart)
    widths = [bar.width for bar in drawing.bars]
    assert widths[1] == 0
    assert widths[0] == pytest.approx(widths[2] / 4, abs=0.11)
    assert widths[3] == pytest.approx(widths[2] / 2, abs=0.11)
    assert max(bar.x + bar.width for bar in drawing.bars) < drawing.width


# -- series from the report's data ---------------------------------------------------


def test_months_ending_crosses_the_year_and_counts_one_month() -> None:
    assert report_charts.months_ending("2026-02", 3) == ("2025-12", "2026-01", "2026-02")
    assert report_charts.months_ending("2026-11", 1) == ("2026-11",)
    assert len(report_charts.months_ending("2026-11")) == 12


def test_median_and_nearest_rank_percentile() -> None:
    assert report_charts.median([]) is None and report_charts.percentile([], 0.9) is None
    assert report_charts.median([4]) == 4 and report_charts.percentile([4], 0.9) == 4
    values = list(range(1, 11))
    assert report_charts.median(values) == 5.5
    assert report_charts.percentile(values, 0.9) == 9  # 9 of the 10 cases took 9 days or less
    assert report_charts.percentile([1, 1, 1, 30], 0.9) == 30


def test_lead_stats_count_business_days_of_cases_that_reached_the_milestone() -> None:
    cases = {
        "2026-11": [
            # Mon 11/2 → Wed 11/4: two days, one business day (11/3 is a holiday).
            a_case("DX-1", 2, None),
            # → Mon 11/9: four business days (11/4-6, 11/9); closed Mon 11/16: nine.
            a_case("DX-2", 7, 14),
            a_case("DX-3", None, None),  # not matched yet: not counted
        ]
    }
    months = report_charts.months_ending("2026-11", 2)
    matched = report_charts.lead_stats(cases, months, "matched")
    assert matched[0] == report_charts.LeadStat("2026-10", 0, None, None)
    assert matched[1] == report_charts.LeadStat("2026-11", 2, 2.5, 4.0)
    closed = report_charts.lead_stats(cases, months, "closed")
    assert closed[1] == report_charts.LeadStat("2026-11", 1, 9.0, 9.0)


def test_satisfaction_fills_missing_months_and_refuses_impossible_answers() -> None:
    months = report_charts.months_ending("2026-11", 3)
    found = report_charts.satisfaction_by_month({"2026-11": (5, 6), "2020-01": (1, 1)}, months)
    assert [(s.month, s.top_two, s.responses, s.share) for s in found] == [
        ("2026-09", 0, 0, None),
        ("2026-10", 0, 0, None),
        ("2026-11", 5, 6, 83.3),
    ]
    for bad in ((7, 6), (-1, 3), (0, -2)):
        with pytest.raises(ValueError, match="2026-11"):
            report_charts.satisfaction_by_month({"2026-11": bad}, months)


def test_dimension_rows_of_summed_months_keep_known_zeros_and_add_unknown_ids() -> None:
    counters = report_charts.summed_counters(
        {"2026-10": {"category:data": 2, "cases": 2}, "2026-11": {"category:gone": 1, "cases": 1}},
        report_charts.months_ending("2026-11", 2),
    )
    rows = dimension_rows("category", counters, LABELS)
    assert [(r["id"], r["label"], r["count"]) for r in rows] == [
        ("mindset", "意識改革・推進体制", 0),
        ("data", "データ利活用", 2),
        ("gone", "gone", 1),
    ]


def test_no_data_at_all_gives_a_sentence_for_every_chart_and_no_drawing() -> None:
    found = report_charts.report_charts("2026-11", {}, {}, LABELS, None)
    assert [view.chart.id for view in found.charts] == [
        "chart-cases-by-month",
        "chart-by-category",
        "chart-by-requester-type",
        "chart-lead-matched",
        "chart-lead-closed",
        "chart-satisfaction",
    ]
    for view in found.charts:
        assert view.drawing is None and view.chart.empty is not None, view.chart.id
    satisfaction = found.charts[-1].chart.empty
    assert satisfaction == Text(
        "満足度アンケートの回答はまだありません。", "No satisfaction survey answers yet."
    )


def test_one_month_of_data_shows_zeros_for_the_other_months() -> None:
    counters = {"2026-11": {"cases": 3, "category:data": 3, "requester_type:business": 3}}
    cases = {"2026-11": [a_case("DX-1", 2, None)]}
    found = report_charts.report_charts("2026-11", counters, cases, LABELS, {"2026-11": (1, 2)})
    by_month, category, requester, matched, closed, satisfaction = found.charts
    assert by_month.drawing is not None
    assert [row[1] for row in by_month.chart.table.rows] == ["0"] * 11 + ["3"]
    assert by_month.chart.table.rows[0][0] == "2025年12月"
    assert "合計3件" in by_month.chart.description
    assert [bar.value for bar in by_month.drawing.bars] == [0.0] * 11 + [3.0]
    assert [row[1:] for row in category.chart.table.rows] == [("0", "0%"), ("3", "100%")]
    assert category.chart.table.rows[1][0] == "データ利活用（Data）"
    assert requester.drawing is not None
    assert matched.chart.table.rows[-1] == ("2026年11月", "1", "1", "1")
    assert matched.chart.table.rows[0] == ("2025年12月", "0", "–", "–")
    assert "該当する案件のない月" in matched.chart.description
    assert closed.drawing is None  # nothing closed yet: the sentence instead
    assert satisfaction.chart.table.rows[-1] == ("2026年11月", "1", "2", "50%")


class FakeReportStore:
    """Counters and cases by month, recording what was asked of it."""

    def __init__(self, counters: dict[str, dict[str, int]], cases: dict[str, list[Any]]) -> None:
        self.counters, self.cases = counters, cases
        self.asked: list[tuple[str, str, tuple[str, ...]]] = []

    def month_counters(self, month: str) -> dict[str, int]:
        self.asked.append(("counters", month, ()))
        return self.counters.get(month, {})

    def month_cases(
        self, month: str, attributes: tuple[str, ...], now_epoch: int
    ) -> list[dict[str, Any]]:
        self.asked.append(("cases", month, attributes))
        return self.cases.get(month, [])


def test_the_use_case_reads_twelve_months_and_only_milestone_stamps_of_cases() -> None:
    from chalicelib.core import monthly

    store = FakeReportStore(
        {"2026-11": {"cases": 2, "category:data": 2, "requester_type:business": 2}},
        {"2026-11": [a_case("DX-1", 2, 9), a_case("DX-2", 7, None)]},
    )
    found = monthly.report_charts(store, "2026-11", None, int(RECEIVED.timestamp()))
    months = report_charts.months_ending("2026-11")
    assert [m for kind, m, _ in store.asked if kind == "counters"] == list(months)
    assert [m for kind, m, _ in store.asked if kind == "cases"] == list(months)
    projections = {attributes for kind, _, attributes in store.asked if kind == "cases"}
    assert projections == {report_charts.LEAD_ATTRIBUTES}
    assert not {"name", "email", "phone", "organization", "message"} & set(
        report_charts.LEAD_ATTRIBUTES
    )
    matched = next(v for v in found.charts if v.chart.id == "chart-lead-matched")
    assert matched.chart.table.rows[-1] == ("2026年11月", "2", "2.5", "4")
    assert found.period.ja == "2025年12月〜2026年11月（受付月）"
