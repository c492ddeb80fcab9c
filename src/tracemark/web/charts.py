"""Server-side SVG charts: the geometry is computed here, templates/_charts.html draws it.

No JavaScript and no chart library: a chart is a dataclass of shapes in SVG user units, with
axis ticks, labels and a tooltip text per mark (rendered as <title>, autoescaped like every
template value). Two kinds cover the dashboards: bars (categories, histograms) and lines over
time. Colours are SVG attributes (the CSP forbids inline styles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

PALETTE = (
    "#2563eb",
    "#d97706",
    "#059669",
    "#dc2626",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#475569",
    "#b45309",
)
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 28, 16, 48
MAX_BAR_WIDTH = 90
MAX_LABEL_CHARS = 14


def format_number(value: float | None) -> str:
    """A short human number: 1,234 / 0.734 / 12.5; a dash for nothing (never NaN)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "\u2013"  # an en dash
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def nice_ticks(
    high: float, low: float = 0.0, count: int = 5, *, whole: bool = False
) -> list[float]:
    """Round tick values from low to at least high (1, 2, 2.5 or 5 times a power of ten).

    `whole` keeps the ticks on whole numbers (for counts).
    """
    if not math.isfinite(high) or high <= low:
        high = low + 1
    raw = (high - low) / count
    if whole:
        raw = max(raw, 1.0)
    power = 10 ** math.floor(math.log10(raw))
    factors = (1, 2, 5, 10) if whole else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in factors if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    at = start
    while at < high + step * 0.999:
        ticks.append(round(at, 10))
        at += step
    return ticks


def short(label: str, limit: int = MAX_LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@dataclass
class Tick:
    position: float  # x for the x axis, y for the y axis
    text: str


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # shown under the bar (shortened)
    title: str  # tooltip
    colour: str


@dataclass
class Point:
    x: float
    y: float
    title: str


@dataclass
class Line:
    name: str
    colour: str
    segments: list[str]  # SVG polyline "x,y x,y" strings; gaps where there is no value
    points: list[Point]


@dataclass
class Chart:
    title: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    x_label: str
    y_label: str
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    rotate_labels: bool = False

    @property
    def plot_width(self) -> float:
        return self.right - self.left

    @property
    def plot_height(self) -> float:
        return self.bottom - self.top


def _frame(title: str, width: int, height: int, x_label: str, y_label: str) -> Chart:
    return Chart(
        title=title,
        width=width,
        height=height,
        left=MARGIN_LEFT,
        top=MARGIN_TOP,
        right=width - MARGIN_RIGHT,
        bottom=height - MARGIN_BOTTOM,
        x_label=x_label,
        y_label=y_label,
    )


def _y_axis(chart: Chart, low: float, high: float, whole: bool) -> tuple[float, float]:
    ticks = nice_ticks(high, low, whole=whole)
    bottom_value, top_value = ticks[0], ticks[-1]
    span = top_value - bottom_value or 1.0
    for value in ticks:
        y = chart.bottom - (value - bottom_value) / span * chart.plot_height
        chart.y_ticks.append(Tick(y, format_number(value)))
    return bottom_value, span


def bar_chart(
    title: str,
    bars: list[tuple[str, float, str]],
    *,
    x_label: str,
    y_label: str = "scores",
    width: int = 560,
    height: int = 240,
    touching: bool = False,
) -> Chart:
    """Vertical bars: (label, value, tooltip) each. `touching` draws a histogram."""
    chart = _frame(title, width, height, x_label, y_label)
    if not bars:
        return chart
    base, span = _y_axis(chart, 0.0, max(value for _, value, _ in bars), whole=True)
    slot = chart.plot_width / len(bars)
    gap = 0.0 if touching else max(min(12.0, slot * 0.25), slot - MAX_BAR_WIDTH)
    chart.rotate_labels = not touching and slot < 7 * MAX_LABEL_CHARS
    for i, (label, value, tip) in enumerate(bars):
        bar_height = (value - base) / span * chart.plot_height
        chart.bars.append(
            Bar(
                x=chart.left + i * slot + gap / 2,
                y=chart.bottom - bar_height,
                width=max(1.0, slot - gap - (1 if touching else 0)),
                height=bar_height,
                label=short(label),
                title=tip,
                colour=PALETTE[0] if touching else PALETTE[i % len(PALETTE)],
            )
        )
    return chart


def histogram(
    title: str,
    bins: list[tuple[float, float, int]],
    *,
    x_label: str,
    integer_bins: bool = False,
    width: int = 560,
    height: int = 240,
) -> Chart:
    """Bins (lower, upper, count) as touching bars with the bin edges (or integers) below."""
    bars = []
    for lower, upper, count in bins:
        if integer_bins:
            label = format_number(lower)
            tip = f"{format_number(lower)}: {count:,} scores"
        else:
            label = format_number(lower)
            tip = f"{format_number(lower)} to {format_number(upper)}: {count:,} scores"
        bars.append((label, float(count), tip))
    chart = bar_chart(title, bars, x_label=x_label, width=width, height=height, touching=True)
    if bins and not integer_bins:
        # Edges under the bar boundaries rather than one label per bar.
        chart.x_ticks = [
            Tick(bar.x, format_number(lower))
            for bar, (lower, _, _) in zip(chart.bars, bins, strict=True)
        ]
        chart.x_ticks.append(Tick(chart.right, format_number(bins[-1][1])))
        for bar in chart.bars:
            bar.label = ""
        if len(bins) > 6:
            chart.x_ticks = chart.x_ticks[::2] + ([chart.x_ticks[-1]] if len(bins) % 2 else [])
    return chart


def _date_text(moment: datetime, hourly: bool) -> str:
    return moment.strftime("%b %d %H:00" if hourly else "%b %d")


def line_chart(
    title: str,
    starts: list[datetime],
    series: list[tuple[str, list[float | None]]],
    *,
    y_label: str,
    hourly: bool = False,
    width: int = 560,
    height: int = 240,
    value_text: str = "",
    whole: bool = False,
) -> Chart:
    """Lines over time: one (name, values aligned with starts) per series; None leaves a gap.

    `whole` keeps the y ticks on whole numbers (for counts).
    """
    chart = _frame(title, width, height, "time (UTC)", y_label)
    values = [v for _, vs in series for v in vs if v is not None]
    if not starts or not values:
        return chart
    low = min(0.0, min(values))
    base, span = _y_axis(chart, low, max(values), whole)
    step = chart.plot_width / max(1, len(starts) - 1)

    def x_of(i: int) -> float:
        return chart.left + (i * step if len(starts) > 1 else chart.plot_width / 2)

    every = max(1, math.ceil(len(starts) / 7))
    chart.x_ticks = [
        Tick(x_of(i), _date_text(start, hourly)) for i, start in enumerate(starts) if i % every == 0
    ]
    for n, (name, points) in enumerate(series):
        line = Line(name=name, colour=PALETTE[n % len(PALETTE)], segments=[], points=[])
        current: list[str] = []
        for i, value in enumerate(points):
            if value is None:
                if current:
                    line.segments.append(" ".join(current))
                current = []
                continue
            x = x_of(i)
            y = chart.bottom - (value - base) / span * chart.plot_height
            current.append(f"{x:.1f},{y:.1f}")
            line.points.append(
                Point(
                    x,
                    y,
                    f"{name} · {_date_text(starts[i], hourly)}: {format_number(value)}{value_text}",
                )
            )
        if current:
            line.segments.append(" ".join(current))
        chart.lines.append(line)
    return chart
