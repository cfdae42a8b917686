"""The report charts as the templates render them (templates/charts/_charts.html): valid SVG with a
text alternative, bars drawn to scale, a data table, everything escaped, nothing empty shown."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from chalicelib.core import report_charts
from chalicelib.core.charts import ChartView
from chalicelib.core.deployment import Label
from chalicelib.core.receipt import JST
from chalicelib.core.timefmt import iso
from chalicelib.templating import environment
from infra.gallery.checks import leaks

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & 相談'
LABELS: dict[str, dict[str, Any]] = {
    "category": {
        "mindset": Label("意識改革・推進体制", "Mindset"),
        "evil": Label(HOSTILE, "R&D <b>"),
    },
    "requester_type": {"business": Label("事業者", "Businesses")},
}


def render(view: ChartView) -> str:
    template = environment().from_string(
        '{% from "charts/_charts.html" import chart %}{{ chart(view) }}'
    )
    return template.render(view=view)


def render_all(found: report_charts.ReportCharts) -> str:
    template = environment().from_string(
        '{% from "charts/_charts.html" import report_charts %}{{ report_charts(charts) }}'
    )
    return template.render(charts=found)


def svg_of(html: str) -> ET.Element:
    match = re.search(r"<svg xmlns=.*?</svg>", html, re.S)
    assert match, "no chart SVG in the output"
    return ET.fromstring(match.group(0))


class Visible(HTMLParser):
    """The text a person reads (the SVG's own text included) and the tags used."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible(html: str) -> Visible:
    parser = Visible()
    parser.feed(html)
    return parser


def sample() -> report_charts.ReportCharts:
    received = datetime(2026, 10, 5, 10, tzinfo=JST)
    counters = {
        "2026-09": {"cases": 4, "category:mindset": 4, "requester_type:business": 4},
        "2026-10": {"cases": 12_345, "category:evil": 12_345, "requester_type:business": 12_345},
        "2026-11": {"cases": 7, "category:mindset": 7, "requester_type:business": 7},
    }
    cases = {
        "2026-10": [
            {
                "receipt_number": f"DX-261005-{n:06d}",
                "created_at": iso(received),
                "status": "closed",
                "matched_at": iso(received + timedelta(days=n)),
                "ended_at": iso(received + timedelta(days=20 + n)),
            }
            for n in (1, 2, 3, 8)
        ]
    }
    return report_charts.report_charts(
        "2026-11", counters, cases, LABELS, {"2026-10": (3, 4), "2026-11": (9, 10)}
    )


def test_each_chart_is_an_svg_image_named_and_described_with_its_figures() -> None:
    for view in sample().charts:
        html = render(view)
        svg = svg_of(html)
        assert svg.get("role") == "img" and svg.get("width") == "100%"
        assert svg.get("viewBox", "").startswith("0 0 360")
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert title is not None and desc is not None
        assert svg.get("aria-labelledby") == title.get("id")
        assert svg.get("aria-describedby") == desc.get("id")
        assert view.chart.title.ja in (title.text or "")
        assert desc.text == view.chart.description
        # Every figure in the table is in the description too.
        for row in view.chart.table.rows:
            assert row[0].split("（")[0] in desc.text or row[0] in desc.text, row
        # A visually available table of the same figures.
        assert "<details" in html and "<table>" in html and "<caption>" in html


def test_the_descriptions_carry_the_figures_with_thousands_separators() -> None:
    by_month = sample().charts[0]
    assert "合計12,356件" in by_month.chart.description
    assert "2026年10月 12,345件" in by_month.chart.description
    assert ("2026年10月", "12,345") in by_month.chart.table.rows


def test_column_heights_and_bar_lengths_in_the_svg_are_proportional_to_the_values() -> None:
    checked = 0
    for view in sample().charts:
        if view.drawing is None:
            continue
        svg = svg_of(render(view))
        bars = [rect for rect in svg.iter(f"{SVG}rect") if rect.get("class") == "chart-bar"]
        values = [float(bar.get("data-value", "nan")) for bar in bars]
        expected = [v for point in view.chart.points for v in point.values if v is not None]
        assert values == expected, view.chart.id
        size = "height" if view.chart.kind == "columns" else "width"
        sizes = [float(bar.get(size, "nan")) for bar in bars]
        scale = max(sizes) / max(values)
        for value, drawn in zip(values, sizes, strict=True):
            assert drawn == pytest.approx(value * scale, abs=0.15), (view.chart.id, value)
        if view.chart.kind == "columns":
            bottoms = {round(float(b.get("y", 0)) + float(b.get("height", 0)), 1) for b in bars}
            assert len(bottoms) == 1, view.chart.id
        checked += 1
    assert checked == 6


def test_satisfaction_columns_are_drawn_against_a_fixed_hundred_percent_axis() -> None:
    view = sample().charts[-1]
    assert view.drawing is not None
    texts = [t.text for t in svg_of(render(view)).iter(f"{SVG}text")]
    assert {"0%", "25%", "50%", "75%", "100%"} <= set(texts)
    heights = [bar.height for bar in view.drawing.bars]
    # 75% and 90% of the same 100% axis.
    assert heights[0] / heights[1] == pytest.approx(75 / 90, abs=0.01)


def test_admin_edited_names_are_escaped_everywhere() -> None:
    html = render_all(sample())
    assert "<script" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp; 相談" in html and "R&amp;D &lt;b&gt;" in html
    for view in sample().charts:
        svg_of(render(view))  # still well-formed XML with the name inside
    category = next(v for v in sample().charts if v.chart.id == "chart-by-category")
    svg = svg_of(render(category))
    shown = "".join(svg.itertext())
    assert HOSTILE[:10] in shown  # the name itself, as text (wrapped, possibly cut)


def test_nothing_empty_or_undefined_is_ever_shown() -> None:
    for found in (sample(), report_charts.report_charts("2026-11", {}, {}, LABELS, None)):
        html = render_all(found)
        parsed = visible(html)
        text = " ".join(parsed.text)
        assert leaks(text.replace(HOSTILE, "").replace("R&D <b>", ""), "charts") == []
        assert "None" not in html and "nan" not in html and "NaN" not in html
        assert "script" not in parsed.tags


def test_an_empty_chart_is_a_sentence_not_an_empty_drawing() -> None:
    found = report_charts.report_charts("2026-11", {}, {}, LABELS, None)
    html = render_all(found)
    assert "<svg" not in html and "<table" not in html
    assert html.count('class="chart-empty"') == 6
    assert "満足度アンケートの回答はまだありません。" in html
    assert "No satisfaction survey answers yet." in html
    assert html.count("<h3") == 6  # each chart keeps its heading


def test_the_report_block_nests_headings_under_the_given_level() -> None:
    template = environment().from_string(
        '{% from "charts/_charts.html" import report_charts %}{{ report_charts(charts, 3) }}'
    )
    html = template.render(charts=sample())
    assert html.count("<h3") == 1 and html.count("<h4") == 6
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids on the page"
