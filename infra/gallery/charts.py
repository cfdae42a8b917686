"""The monthly report's charts on pages of their own, from fictitious figures (gallery and browser tests).

`write_chart_pages(folder)` renders each sample through the application's
templating environment (templates/charts/_charts.html, as the console's
report page does) into `folder`, with the charts' stylesheet beside it.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.core import report_charts
from chalicelib.core.case import Status
from chalicelib.core.deployment import Deployment
from chalicelib.core.monthly import labels_of
from chalicelib.core.receipt import JST
from chalicelib.core.timefmt import iso
from chalicelib.templating import environment, template_dir

SAMPLE_MONTH = "2026-11"
STYLESHEET = "charts.css"

PAGE = """<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<link rel="stylesheet" href="{{ stylesheet }}">
<link rel="stylesheet" href="page.css">
</head>
<body>
<main>
<h1>{{ heading }} <span lang="en">/ {{ heading_en }}</span></h1>
<p>{{ intro }}</p>
{% from "charts/_charts.html" import report_charts %}
{{ report_charts(charts) }}
</main>
</body>
</html>
"""

# What the console's own stylesheet gives a page (font, margins): enough to see the charts as there.
PAGE_CSS = """*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; color: #1a1a1a; background: #ffffff; line-height: 1.7;
  font-family: "Hiragino Sans", "Noto Sans JP", "Noto Sans CJK JP", "Yu Gothic", Meiryo, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; line-height: 1.4; }
a { color: #0b4fa8; }
:focus-visible { outline: 3px solid #d95d00; outline-offset: 2px; }
"""


@dataclass(frozen=True)
class ChartPage:
    name: str
    note: str
    file: str


def sample_cases(
    month: str, deployment: Deployment, seed: int = 14
) -> dict[str, list[dict[str, Any]]]:
    """Twelve months of fictitious cases (ids, classification, milestone stamps; nothing personal)."""
    rng = random.Random(seed)
    categories = list(deployment.categories)
    weights_category = [3, 5, 4, 2, 6, 1, 1][: len(categories)] + [1] * max(0, len(categories) - 7)
    requester_types = list(deployment.requester_types)
    weights_requester = [2, 6, 3, 2, 1][: len(requester_types)] + [1] * max(
        0, len(requester_types) - 5
    )
    cases: dict[str, list[dict[str, Any]]] = {}
    for index, current in enumerate(report_charts.months_ending(month)):
        year, number = (int(part) for part in current.split("-"))
        count = 6 + (index * 7) % 11 + (4 if number in (6, 10) else 0)
        found = []
        for serial in range(count):
            created = datetime(
                year, number, 1 + rng.randrange(27), 9 + rng.randrange(8), tzinfo=JST
            )
            case: dict[str, Any] = {
                "receipt_number": f"DX-{created:%y%m%d}-{serial:06d}",
                "created_at": iso(created),
                "status": Status.RECEIVED.value,
                "category": rng.choices(categories, weights_category[: len(categories)])[0],
                "requester_type": rng.choices(
                    requester_types, weights_requester[: len(requester_types)]
                )[0],
            }
            age = len(report_charts.months_ending(month)) - index
            if rng.random() < 0.95 - 0.06 * (12 - age):
                matched = created + timedelta(days=2 + rng.randrange(4 + index % 5 * 3))
                case.update(status=Status.IN_PROGRESS.value, matched_at=iso(matched))
                if age > 2 and rng.random() < 0.8:
                    ended = matched + timedelta(days=10 + rng.randrange(40))
                    case.update(status=Status.CLOSED.value, ended_at=iso(ended))
            found.append(case)
        cases[current] = found
    return cases


def counters_of(cases: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, int]]:
    """Each month's counters as intake keeps them (cases, category:…, requester_type:…)."""
    counters: dict[str, dict[str, int]] = {}
    for month, found in cases.items():
        month_counters: dict[str, int] = {}
        for case in found:
            for name in (
                "cases",
                f"category:{case['category']}",
                f"requester_type:{case['requester_type']}",
            ):
                month_counters[name] = month_counters.get(name, 0) + 1
        counters[month] = month_counters
    return counters


def sample_satisfaction(month: str) -> dict[str, tuple[int, int]]:
    """Survey answers for the last months only (the survey starts part way through the year)."""
    months = report_charts.months_ending(month)
    return {
        m: (top, total)
        for m, (top, total) in zip(
            months[-5:], [(3, 4), (0, 0), (7, 9), (11, 12), (5, 8)], strict=True
        )
        if total
    }


def samples(deployment: Deployment) -> list[tuple[ChartPage, report_charts.ReportCharts]]:
    cases = sample_cases(SAMPLE_MONTH, deployment)
    labels = labels_of(deployment)
    return [
        (
            ChartPage(
                "charts-report",
                "月次報告のグラフ（架空の12か月、満足度あり）",
                "charts/report.html",
            ),
            report_charts.report_charts(
                SAMPLE_MONTH, counters_of(cases), cases, labels, sample_satisfaction(SAMPLE_MONTH)
            ),
        ),
        (
            ChartPage(
                "charts-empty", "月次報告のグラフ（データなし：開設直後）", "charts/empty.html"
            ),
            report_charts.report_charts(SAMPLE_MONTH, {}, {}, labels, None),
        ),
    ]


def render_page(charts: report_charts.ReportCharts, note: str) -> str:
    template = environment().from_string(PAGE)
    return template.render(
        title="月次報告のグラフ（見本） / Report charts",
        heading="月次報告のグラフ（見本）",
        heading_en="Report charts (sample)",
        intro=f"{note}。数値はすべて架空です。Fictitious figures.",
        stylesheet=STYLESHEET,
        charts=charts,
    )


def write_chart_pages(folder: Path, deployment: Deployment) -> list[ChartPage]:
    """Each sample page into `folder`/charts/, with the stylesheets beside them."""
    target = folder / "charts"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template_dir() / "charts" / STYLESHEET, target / STYLESHEET)
    (target / "page.css").write_text(PAGE_CSS, encoding="utf-8")
    written = []
    for page, charts in samples(deployment):
        (folder / page.file).write_text(render_page(charts, page.note), encoding="utf-8")
        written.append(page)
    return written
