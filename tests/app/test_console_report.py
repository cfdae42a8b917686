"""The monthly report in the console: the month's figures as tables and its anonymous CSV."""

from __future__ import annotations

from typing import Any

from chalicelib import runtime
from chalicelib.core.receipt import JST
from tests.app.console_helpers import html
from tests.app.test_action_links import submit


def test_the_report_counts_the_months_cases_and_its_csv_has_no_personal_data(
    client: Any, staff: tuple[str, str]
) -> None:
    cookie, _ = staff
    receipt = submit(client)
    month = runtime.now().astimezone(JST).strftime("%Y-%m")
    page = client.http.get(f"/console/report?month={month}", headers={"Cookie": cookie})
    assert page.status_code == 200
    text = html(page)
    assert "<strong>1 件</strong>" in text
    # The charts are drawn on the server, each with its figures in words and a table.
    # One case received, none matched, closed or surveyed yet: three charts drawn, the
    # other three say in a sentence that there is nothing to draw.
    assert 'class="report-charts"' in text and text.count('role="img"') == 3
    assert "満足度アンケートの回答はまだありません。" in text
    by_month = text[text.index('id="chart-cases-by-month"') :]
    assert f"{int(month[5:])}月" in by_month and "<script" not in text
    styles = client.http.get("/console/static/charts.css", headers={"Cookie": cookie})
    assert styles.status_code == 200 and styles.headers["Content-Type"].startswith("text/css")
    csv = client.http.get(f"/console/report/cases.csv?month={month}", headers={"Cookie": cookie})
    assert csv.status_code == 200
    body = html(csv)
    assert body.startswith("\ufeff") and receipt in body
    assert "requester-a@example.com" not in body and "相談者A" not in body


def test_an_absurd_month_is_a_clear_error(client: Any, staff: tuple[str, str]) -> None:
    cookie, _ = staff
    page = client.http.get("/console/report?month=0001-13", headers={"Cookie": cookie})
    assert page.status_code == 422
    assert "2026-11 のように" in html(page)
