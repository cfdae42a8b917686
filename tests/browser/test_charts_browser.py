"""The report charts in Chromium: axe-clean at 1280 and 375 px, readable, no sideways scroll, the
data tables reachable by keyboard, and an admin-edited name with markup shown as text.

The pages are rendered through the application's templating environment into
files (infra/gallery/charts.py, as `make gallery` does) and served by a local
http.server (axe reads the stylesheets, which a file:// page may not); no stack.
Screenshots: test-artifacts/screenshots/charts-*.png.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from chalicelib.core import report_charts
from chalicelib.core.deployment import Deployment, Label
from chalicelib.core.settings import settings_from
from chalicelib.runtime import load_deployment
from infra.gallery.charts import (
    SAMPLE_MONTH,
    counters_of,
    render_page,
    sample_cases,
    write_chart_pages,
)
from infra.local.dev import stage_environment
from tests.browser.conftest import OpenPage
from tests.browser.test_form_browser import assert_no_horizontal_scroll, run_axe, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Dialog

pytestmark = pytest.mark.browser

WIDTHS = {"1280": {"width": 1280, "height": 900}, "375": {"width": 375, "height": 812}}
HOSTILE = '<script>alert("x")</script> & <b>相談</b>'
# CSS px: the smallest text drawn in a chart (tick and value labels) at each width.
SMALLEST_TEXT_PX = 9.5


@pytest.fixture(scope="module")
def deployment() -> Deployment:
    return load_deployment(settings_from(stage_environment()).deployment_file)


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pages(
    tmp_path_factory: pytest.TempPathFactory, deployment: Deployment
) -> Iterator[dict[str, str]]:
    """Page name → its URL on a local http.server."""
    folder = tmp_path_factory.mktemp("charts")
    written = {page.name: page.file for page in write_chart_pages(folder, deployment)}
    # An admin named a category with markup: the page must show it, never run it.
    cases = sample_cases(SAMPLE_MONTH, deployment)
    first = next(iter(deployment.categories))
    labels: dict[str, Any] = {
        "category": {**deployment.categories, first: Label(HOSTILE, "R&D <i>")},
        "requester_type": deployment.requester_types,
    }
    hostile = report_charts.report_charts(SAMPLE_MONTH, counters_of(cases), cases, labels, None)
    (folder / "charts" / "hostile.html").write_text(
        render_page(hostile, "名前に記号を含む分野"), encoding="utf-8"
    )
    written["charts-hostile"] = "charts/hostile.html"
    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="chart-pages", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield {name: f"{base}/{file}" for name, file in written.items()}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", ["charts-report", "charts-empty", "charts-hostile"])
def test_chart_pages_pass_axe_and_fit_the_screen(
    pages: dict[str, str], open_page: OpenPage, axe_source: str, name: str, width: str
) -> None:
    page = open_page(viewport=WIDTHS[width])
    dialogs: list[str] = []

    def dialog_opened(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dialog_opened)
    page.goto(pages[name])
    run_axe(page, axe_source, f"{name} ({width} px)")
    assert_no_horizontal_scroll(page, f"{name} ({width} px)")
    # Every data table open: axe again on what they show.
    for summary in page.locator("details.chart-data > summary").all():
        summary.click()
    run_axe(page, axe_source, f"{name} with the tables open ({width} px)")
    assert_no_horizontal_scroll(page, f"{name} with the tables open ({width} px)")
    screenshot(page, f"{name}-{width}")
    assert dialogs == []
    assert page.locator("script").count() == 0


def test_charts_are_drawn_readable_at_both_widths(
    pages: dict[str, str], open_page: OpenPage
) -> None:
    for width, viewport in WIDTHS.items():
        page = open_page(viewport=viewport)
        page.goto(pages["charts-report"])
        svgs = page.locator("svg.chart-svg")
        assert svgs.count() == 6
        for index in range(svgs.count()):
            box = svgs.nth(index).bounding_box()
            assert box is not None
            # Fills a phone's column, capped on a desktop (36rem = 576 px).
            assert 300 <= box["width"] <= min(viewport["width"], 576), (width, box)
        smallest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll('svg.chart-svg text')]
                 .filter(t => t.textContent.trim())
                 .map(t => t.getBoundingClientRect().height))"""
        )
        assert smallest >= SMALLEST_TEXT_PX, (width, smallest)


def test_the_data_tables_open_from_the_keyboard(pages: dict[str, str], open_page: OpenPage) -> None:
    page = open_page(viewport=WIDTHS["375"])
    page.goto(pages["charts-report"])
    table = page.locator("#chart-cases-by-month table")
    assert not table.is_visible()
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.closest('section.chart')?.id")
    assert focused == "chart-cases-by-month"
    page.keyboard.press("Enter")
    assert table.is_visible()
    assert table.locator("tbody tr").count() == 12


def test_an_admin_edited_name_with_markup_is_shown_as_text(
    pages: dict[str, str], open_page: OpenPage
) -> None:
    page = open_page()
    page.goto(pages["charts-hostile"])
    section = page.locator("#chart-by-category")
    section.locator("summary").click()
    assert HOSTILE in section.locator("table").inner_text()
    assert section.locator("b, i, script").count() == 0
    svg_text = section.locator("svg text").all_text_contents()
    assert any(text.startswith('<script>alert("x")') for text in svg_text), svg_text
