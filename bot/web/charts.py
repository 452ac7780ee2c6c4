"""Charts drawn on the server as SVG geometry (no script, nothing inline for the CSP to refuse).

Each function turns figures into shapes in a fixed viewBox; the template only writes them out. To add a chart:
a function returning a `Chart` and a block in `templates/stats.html`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.incidents.stats import WeekStats
from bot.web.present import minutes_text

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 80, 12, 12, 36


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    css: str
    points: str  # "x,y x,y …" for <polyline>
    dots: list[tuple[float, float, str]]


@dataclass(slots=True)
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_labels: list[tuple[float, str]] = field(default_factory=list)
    empty: bool = False


def weekly_bars(weeks: Sequence[WeekStats]) -> Chart:
    """Incidents opened per week, one bar a week."""
    chart = Chart()
    top = max([w.count for w in weeks] + [1])
    slot = (WIDTH - LEFT - RIGHT) / max(len(weeks), 1)
    for index, week in enumerate(weeks):
        height = (HEIGHT - TOP - BOTTOM) * week.count / top
        x = LEFT + index * slot
        chart.bars.append(Bar(x + slot * 0.15, HEIGHT - BOTTOM - height, slot * 0.7, height,
                              week.start.strftime("%d %b"), f"{week.count} incidents"))
        chart.x_labels.append((x + slot / 2, week.start.strftime("%d %b")))
    chart.y_labels = _y_axis(top, sorted({0, top // 2, top}), str)
    chart.empty = not any(w.count for w in weeks)
    return chart


def trend_lines(weeks: Sequence[WeekStats]) -> Chart:
    """Median MTTA and MTTR per week, in minutes, as two lines."""
    chart = Chart()
    values = [v for w in weeks for v in (w.mtta_minutes, w.mttr_minutes) if v is not None]
    top = max([*values, 1.0])
    slot = (WIDTH - LEFT - RIGHT) / max(len(weeks), 1)
    for name, field_name in (("MTTA", "mtta_minutes"), ("MTTR", "mttr_minutes")):
        css = name.lower()
        dots = []
        for index, week in enumerate(weeks):
            value: float | None = getattr(week, field_name)
            if value is not None:
                x = LEFT + index * slot + slot / 2
                y = HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / top
                dots.append((round(x, 1), round(y, 1), f"{name} {week.start:%d %b}: {minutes_text(value)}"))
        chart.lines.append(Line(name, css, " ".join(f"{x},{y}" for x, y, _ in dots), dots))
    chart.x_labels = [(LEFT + i * slot + slot / 2, w.start.strftime("%d %b")) for i, w in enumerate(weeks)]
    chart.y_labels = _y_axis(top, [0, top / 2, top], minutes_text)
    chart.empty = not values
    return chart


def alarm_bars(per_alarm: Sequence[tuple[str, int]]) -> Chart:
    """Incidents per alarm, one horizontal bar each, most first."""
    row = 26
    chart = Chart(height=max(len(per_alarm), 1) * row + TOP)
    top = max([count for _, count in per_alarm] + [1])
    label_width = 260
    for index, (alarm, count) in enumerate(per_alarm):
        width = (WIDTH - label_width - RIGHT - 40) * count / top
        chart.bars.append(Bar(label_width, TOP + index * row, width, row * 0.7, alarm, str(count)))
    chart.empty = not per_alarm
    return chart


def _y_axis(top: float, values: Sequence[float], show: Callable[[Any], str]) -> list[tuple[float, str]]:
    return [(HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * value / top, show(value)) for value in values]
