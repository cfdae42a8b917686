"""Report charts as pure geometry: nice axis ticks, column and bar layouts, numbers as people read them.

A `Chart` holds what a chart says (its points, series, description and data
table, all text already formatted); `draw` turns it into a `Drawing` of
rectangles, lines and labels in SVG user units that templates/charts/ only
prints. Nothing here knows about Jinja, HTTP or storage.

Drawn for a phone first: the view box is VIEW_WIDTH units wide and the SVG
scales to its box (width 100%), so at 375 px the text is about its nominal
size and on a desktop the stylesheet caps the width (templates/charts/charts.css).

Written here rather than with a chart library: pygal links a tooltip script
from a CDN by default and leather is made for exploratory charts; neither writes
a <desc> with the figures or a paired table, and their text would bypass our
templates' escaping. The geometry of a bar chart is a few lines.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from chalicelib.core.report import Text

VIEW_WIDTH = 360.0
PAD = 8.0
TICK_SIZE = 12.0
AXIS_LABEL_SIZE = 11.0
VALUE_SIZE = 11.0
LABEL_SIZE = 13.0
LINE_HEIGHT = 17.0
PLOT_HEIGHT = 170.0
BAR_THICKNESS = 14.0
LABEL_LINES = 2

# Colours (WCAG 1.4.11: every bar at least 3:1 against the white background;
# text at least 4.5:1). Series colours come from the Okabe-Ito palette, which
# stays distinct for the common colour-vision deficiencies; bars of a group are
# kept apart by a white gap, so each bar borders on the background.
BACKGROUND = "#ffffff"
TEXT = "#1a1a1a"
MUTED_TEXT = "#3d4a57"
AXIS = "#5c6b7a"
GRID = "#dde3ea"
PALETTE = ("#0072B2", "#D55E00")
NO_VALUE = "–"


# -- numbers -----------------------------------------------------------------


def format_number(value: float, suffix: str = "") -> str:
    """1234 → "1,234"; 2.5 → "2.5"; 2.0 → "2" (one decimal at most, never NaN or None)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    rounded = round(value, 1)
    if rounded == int(rounded):
        return f"{int(rounded):,}{suffix}"
    return f"{rounded:,.1f}{suffix}"


def nice_ticks(high: float, count: int = 5, *, integer: bool = True) -> tuple[float, ...]:
    """Axis ticks from 0 up to at least `high`: steps of 1, 2, 2.5 or 5 times a power of ten.

    About `count` intervals; `integer` keeps steps whole (counts of cases).
    Zero, negative or non-finite highs give (0, 1) so an axis is always drawable.
    """
    if not math.isfinite(high) or high <= 0:
        return (0, 1)
    raw = high / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for multiple in (1, 2, 2.5, 5, 10):
        candidate = multiple * magnitude
        if integer and candidate != int(candidate):
            continue
        if candidate >= raw:
            step = candidate
            break
    if integer:
        step = max(step, 1.0)
    intervals = math.ceil(high / step - 1e-9)
    ticks = tuple(round(index * step, 6) for index in range(intervals + 1))
    if integer:
        return tuple(float(int(tick)) for tick in ticks)
    return ticks


# -- text width (no font metrics on the server: an estimate that errs wide) --------


def text_width(text: str, size: float) -> float:
    """Estimated drawn width: wide (CJK) characters one em, others 0.62 em."""
    return sum(
        size if unicodedata.east_asian_width(char) in ("W", "F") else size * 0.62 for char in text
    )


def wrap(text: str, width: float, size: float, lines: int = LABEL_LINES) -> tuple[str, ...]:
    """`text` in at most `lines` lines of at most `width`; cut with "…" when longer.

    Breaks between characters (Japanese has no spaces to break at); the full
    text is always in the chart's data table and description.
    """
    found: list[str] = []
    current = ""
    for char in text:
        if text_width(current + char, size) > width and current:
            found.append(current)
            current = ""
        current += char
    if current:
        found.append(current)
    if len(found) <= lines:
        return tuple(found) or ("",)
    kept = found[:lines]
    last = kept[-1]
    while last and text_width(last + "…", size) > width:
        last = last[:-1]
    kept[-1] = last + "…"
    return tuple(kept)


# -- what a chart says -----------------------------------------------------------


@dataclass(frozen=True)
class Series:
    label: Text
    colour: str


@dataclass(frozen=True)
class Point:
    """One place on the category axis (a month, a category) with a value per series.

    A value of None means there is nothing to measure there (no case reached
    the milestone, no survey answer): drawn as "–", never as 0.
    """

    key: str
    label: str
    values: tuple[float | None, ...]
    group_label: str = ""  # a second axis line, e.g. the year under January


@dataclass(frozen=True)
class Table:
    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Chart:
    id: str  # unique on the page: the SVG's <title>/<desc> ids derive from it
    kind: str  # "columns" (vertical, along months) or "bars" (horizontal, by category)
    title: Text
    description: str  # Japanese, with the figures (the SVG's <desc>)
    unit: Text
    series: tuple[Series, ...]
    points: tuple[Point, ...]
    table: Table
    empty: Text | None = None  # set: the chart has nothing to show; this sentence instead
    note: Text | None = None
    suffix: str = ""  # after each value ("%")
    fixed_ticks: tuple[float, ...] | None = None
    integer: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("columns", "bars"):
            raise ValueError(f"unknown chart kind: {self.kind!r}")
        for point in self.points:
            if len(point.values) != len(self.series):
                raise ValueError(f"{self.id}: {point.key} has {len(point.values)} values")
            for value in point.values:
                if value is not None and (not math.isfinite(value) or value < 0):
                    raise ValueError(f"{self.id}: {point.key} has a bad value {value!r}")


# -- what is drawn ---------------------------------------------------------------


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    value: float | None = None  # the figure a bar stands for (data-value, for tests and tools)


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    lines: tuple[str, ...]
    size: float
    anchor: str = "start"  # SVG text-anchor
    fill: str = TEXT
    leading: float = LINE_HEIGHT  # between lines of a wrapped label


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    rects: tuple[Rect, ...] = ()
    lines: tuple[Line, ...] = ()
    labels: tuple[Label, ...] = ()
    bars: tuple[Rect, ...] = field(default=())  # the data bars only (a subset of rects)


@dataclass(frozen=True)
class ChartView:
    """A chart with its drawing (None when the chart shows its `empty` sentence)."""

    chart: Chart
    drawing: Drawing | None


def _r(value: float) -> float:
    return round(value, 1)


def _legend(series: Sequence[Series], y: float) -> tuple[list[Rect], list[Label], float]:
    """Swatches and names in rows across the width; returns them and the height used."""
    if len(series) < 2:
        return [], [], 0.0
    rects, labels = [], []
    x, row = PAD, 0
    for item in series:
        name = f"{item.label.ja}"
        width = 14 + text_width(name, TICK_SIZE) + 14
        if x + width > VIEW_WIDTH - PAD and x > PAD:
            x, row = PAD, row + 1
        top = y + row * LINE_HEIGHT
        rects.append(Rect(_r(x), _r(top + 2), 10, 10, item.colour))
        labels.append(Label(_r(x + 14), _r(top + 11), (name,), TICK_SIZE))
        x += width
    return rects, labels, (row + 1) * LINE_HEIGHT + 6


def _values(chart: Chart) -> list[float]:
    return [value for point in chart.points for value in point.values if value is not None]


def column_drawing(chart: Chart) -> Drawing:
    """Vertical columns along the points (months), grouped when there are several series."""
    ticks = chart.fixed_ticks or nice_ticks(max(_values(chart), default=0), integer=chart.integer)
    top_value = ticks[-1]
    tick_labels = [format_number(tick, chart.suffix) for tick in ticks]
    left = PAD + max(text_width(label, TICK_SIZE) for label in tick_labels) + 6
    right = VIEW_WIDTH - PAD
    legend_rects, legend_labels, legend_height = _legend(chart.series, PAD)
    unit_y = PAD + legend_height + TICK_SIZE
    plot_top = unit_y + 14
    plot_bottom = plot_top + PLOT_HEIGHT
    has_groups = any(point.group_label for point in chart.points)
    height = plot_bottom + 18 + (16 if has_groups else 0)

    def y_of(value: float) -> float:
        return plot_bottom - PLOT_HEIGHT * value / top_value

    lines: list[Line] = []
    labels: list[Label] = [
        *legend_labels,
        Label(
            PAD, _r(unit_y), (f"{chart.unit.ja}（{chart.unit.en}）",), TICK_SIZE, fill=MUTED_TEXT
        ),
    ]
    for tick, text in zip(ticks, tick_labels, strict=True):
        y = _r(y_of(tick))
        lines.append(Line(_r(left), y, _r(right), y, AXIS if tick == 0 else GRID))
        labels.append(Label(_r(left - 4), _r(y + TICK_SIZE * 0.35), (text,), TICK_SIZE, "end"))

    count = max(len(chart.points), 1)
    band = (right - left) / count
    group = band * 0.76
    per_series = len(chart.series)
    gap = 1.5 if per_series > 1 else 0.0
    bar_width = (group - gap * (per_series - 1)) / per_series
    shown = [
        format_number(value, chart.suffix)
        for point in chart.points
        for value in point.values
        if value is not None
    ]
    # Figures above the columns only when every one fits its column (otherwise the table has them).
    value_labels = all(text_width(text, VALUE_SIZE) <= bar_width + gap + 2 for text in shown)
    bars: list[Rect] = []
    groups: list[tuple[float, str]] = []
    for index, point in enumerate(chart.points):
        centre = left + band * (index + 0.5)
        start = centre - group / 2
        for position, (value, series) in enumerate(zip(point.values, chart.series, strict=True)):
            x = start + position * (bar_width + gap)
            middle = _r(x + bar_width / 2)
            if value is None:
                labels.append(
                    Label(
                        middle, _r(plot_bottom - 3), (NO_VALUE,), VALUE_SIZE, "middle", MUTED_TEXT
                    )
                )
                continue
            top = y_of(value)
            bars.append(
                Rect(_r(x), _r(top), _r(bar_width), _r(plot_bottom - top), series.colour, value)
            )
            if value_labels:
                labels.append(
                    Label(
                        middle,
                        _r(top - 3),
                        (format_number(value, chart.suffix),),
                        VALUE_SIZE,
                        "middle",
                    )
                )
        labels.append(
            Label(_r(centre), _r(plot_bottom + 14), (point.label,), AXIS_LABEL_SIZE, "middle")
        )
        if point.group_label:
            edge = left + band * index
            if index:
                lines.append(Line(_r(edge), _r(plot_bottom), _r(edge), _r(height), AXIS))
            # A group label that would run into the next one gives way to it (December
            # first: "2026年" under January wins; the period above names both years).
            if groups and groups[-1][0] + text_width(groups[-1][1], AXIS_LABEL_SIZE) > edge:
                groups.pop()
            groups.append((edge + 2, point.group_label))
    labels += [
        Label(_r(x), _r(plot_bottom + 30), (text,), AXIS_LABEL_SIZE, "start", MUTED_TEXT)
        for x, text in groups
    ]
    return Drawing(
        width=VIEW_WIDTH,
        height=_r(height),
        rects=(*legend_rects, *bars),
        lines=tuple(lines),
        labels=tuple(labels),
        bars=tuple(bars),
    )


def bar_drawing(chart: Chart) -> Drawing:
    """Horizontal bars, one block per point: its name on one or two lines, then its bars."""
    values = _values(chart)
    high = max(values, default=0)
    shown = [format_number(value, chart.suffix) for value in values] or ["0"]
    value_room = max(text_width(text, VALUE_SIZE) for text in shown) + 6
    left = PAD + 2
    length = VIEW_WIDTH - PAD - left - value_room
    legend_rects, legend_labels, legend_height = _legend(chart.series, PAD)
    y = PAD + legend_height
    lines: list[Line] = []
    labels: list[Label] = [*legend_labels]
    bars: list[Rect] = []
    for point in chart.points:
        wrapped = wrap(point.label, VIEW_WIDTH - 2 * PAD, LABEL_SIZE)
        labels.append(Label(PAD, _r(y + LABEL_SIZE), wrapped, LABEL_SIZE))
        y += len(wrapped) * LINE_HEIGHT + 2
        block_top = y
        for value, series in zip(point.values, chart.series, strict=True):
            if value is None:
                labels.append(
                    Label(_r(left + 4), _r(y + 11), (NO_VALUE,), VALUE_SIZE, fill=MUTED_TEXT)
                )
            else:
                width = length * value / high if high else 0.0
                bar = Rect(_r(left), _r(y), _r(width), BAR_THICKNESS, series.colour, value)
                bars.append(bar)
                labels.append(
                    Label(
                        _r(left + width + 4),
                        _r(y + 11),
                        (format_number(value, chart.suffix),),
                        VALUE_SIZE,
                    )
                )
            y += BAR_THICKNESS + 2
        lines.append(Line(PAD, _r(block_top - 1), PAD, _r(y - 1), AXIS))
        y += 8
    return Drawing(
        width=VIEW_WIDTH,
        height=_r(y + PAD - 8),
        rects=(*legend_rects, *bars),
        lines=tuple(lines),
        labels=tuple(labels),
        bars=tuple(bars),
    )


def draw(chart: Chart) -> ChartView:
    if chart.empty is not None:
        return ChartView(chart, None)
    drawing = column_drawing(chart) if chart.kind == "columns" else bar_drawing(chart)
    return ChartView(chart, drawing)
