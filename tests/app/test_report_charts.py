"""The report charts from the real stores: cases submitted and acted on through the API (the
scenario of test_admin_reports) → twelve months of charts whose figures match the scenario's oracle,
read with Queries only and without fetching any personal data."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import runtime
from chalicelib.core import monthly, report_charts
from tests.app.test_admin_cases import Clock
from tests.app.test_admin_reports import (  # noqa: F401 (fixtures)
    MONTH,
    Operations,
    clock,
    expected_counts,
    jst,
    personal,
    roster,
    run_scenario,
)


def test_the_charts_match_the_cases_submitted_and_read_no_personal_data(
    client: Any,
    staff_headers: dict[str, str],
    clock: Clock,  # noqa: F811
    roster: None,  # noqa: F811
) -> None:
    planned = run_scenario(client, staff_headers, clock)
    clock.set(jst(26))
    with Operations() as ops:
        found = monthly.report_charts(
            runtime.case_store(),
            MONTH,
            runtime.directory().deployment,
            int(jst(26).timestamp()),
        )
    assert not any(op == "Scan" for op, _ in ops.calls)
    months = report_charts.months_ending(MONTH)
    # One Query of each month's counters and one of its cases (gsi2), nothing else.
    assert sorted(ops.calls) == sorted(
        [("Query", f"table:STATS#{m}") for m in months]
        + [("Query", f"gsi2:MONTH#{m}") for m in months]
    )
    charts = {view.chart.id: view for view in found.charts}

    by_month = charts["chart-cases-by-month"]
    assert [row[1] for row in by_month.chart.table.rows] == ["0"] * 11 + [str(len(planned))]

    expected = expected_counts(planned)
    for chart_id, dimension in (
        ("chart-by-category", "category"),
        ("chart-by-requester-type", "requester_type"),
    ):
        shown = {point.key: point.values[0] for point in charts[chart_id].chart.points}
        assert {key: value for key, value in shown.items() if value} == {
            key: float(count) for key, count in expected[dimension].items()
        }, dimension

    # The oracle's business days (test_admin_reports): matched 3; closed 5 and 6.
    matched = charts["chart-lead-matched"].chart.table.rows[-1]
    closed = charts["chart-lead-closed"].chart.table.rows[-1]
    assert matched == ("2026年11月", "1", "3", "3")
    assert closed == ("2026年11月", "2", "5.5", "6")
    assert charts["chart-satisfaction"].drawing is None  # no survey yet: the sentence

    # No requester's name, address, phone or text anywhere in what the charts hold.
    held = json.dumps(
        [
            (view.chart.description, view.chart.table.rows, [p.label for p in view.chart.points])
            for view in found.charts
        ],
        ensure_ascii=False,
    )
    for index in range(len(planned)):
        for value in personal(index).values():
            assert value not in held
