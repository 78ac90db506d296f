"""Daily credits as a stacked bar chart, drawn on the server as SVG: no chart script, readable
without JavaScript, and allowed by the CSP (every colour and size is an SVG attribute, no
``style=``). The same figures go out as a table beside it (``Chart.rows``), its accessible twin.

Coordinates are worked out here and handed to the template as strings (a locale that writes
"12,5" must not reach an SVG attribute).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

# Okabe and Ito's colours, told apart with every common kind of colour blindness; grey is "others".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D1F")
OTHERS_FILL = "#9A9A9A"
WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 10, 26
X_LABELS = 8


@dataclass(frozen=True)
class Segment:
    x: str
    y: str
    width: str
    height: str
    fill: str
    title: str


@dataclass(frozen=True)
class Tick:
    at: str
    label: str


@dataclass(frozen=True)
class Series:
    name: str
    fill: str
    total: int


@dataclass(frozen=True)
class Row:
    day: date
    values: list[int]
    total: int


@dataclass(frozen=True)
class Chart:
    segments: list[Segment]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    series: list[Series]
    rows: list[Row]  # days with credits only: the table beside the chart
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.series


def _px(value: float) -> str:
    return f"{value:.1f}"


def nice_ceiling(peak: int) -> int:
    """The smallest 1, 2 or 5 times 10ⁿ at or above ``peak`` (at least 1): a readable top."""
    if peak <= 1:
        return 1
    power: int = 10 ** (len(str(peak)) - 1)
    return next(step * power for step in (1, 2, 5, 10) if step * power >= peak)


def _series(totals: dict[str, int], limit: int) -> tuple[list[Series], dict[str, int]]:
    """The ``limit`` largest series by total, then "Others" for the rest; and where each name
    goes (its column)."""
    ranked = sorted((n for n, t in totals.items() if t), key=lambda n: (-totals[n], n))
    shown = ranked if len(ranked) <= limit else ranked[: limit - 1]
    series = [Series(name, PALETTE[i], totals[name]) for i, name in enumerate(shown)]
    column = {name: i for i, name in enumerate(shown)}
    rest = ranked[len(shown) :]
    if rest:
        series.append(Series(_("Others"), OTHERS_FILL, sum(totals[n] for n in rest)))
        column.update(dict.fromkeys(rest, len(shown)))
    return series, column


def stacked(days: list[date], cells: Iterable[dict[str, Any]], key: str, value: str) -> Chart:
    """A bar per day of ``days``, stacked by ``key`` (member or model) of the cells' ``value``."""
    cells = list(cells)
    totals: dict[str, int] = defaultdict(int)
    for cell in cells:
        totals[str(cell[key])] += int(cell[value])
    series, column = _series(totals, len(PALETTE))
    grid: dict[date, list[int]] = {day: [0] * len(series) for day in days}
    for cell in cells:
        if cell[value] and cell["day"] in grid:
            grid[cell["day"]][column[str(cell[key])]] += int(cell[value])
    rows = [Row(day, grid[day], sum(grid[day])) for day in days if sum(grid[day])]
    top = nice_ceiling(max((row.total for row in rows), default=0))
    return Chart(
        segments=_segments(days, grid, series, top),
        y_ticks=_y_ticks(top),
        x_ticks=_x_ticks(days),
        series=series,
        rows=rows,
    )


def _segments(
    days: list[date], grid: dict[date, list[int]], series: list[Series], top: int
) -> list[Segment]:
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    bar = slot * 0.8 if slot > 4 else slot
    segments = []
    for n, day in enumerate(days):
        base = float(HEIGHT - BOTTOM)
        for credits, one in zip(grid[day], series, strict=True):
            if not credits:
                continue
            height = credits / top * plot_height
            base -= height
            title = _("%(day)s, %(name)s: %(credits)d credits") % {
                "day": date_format(day, "WEEKDAY_MONTH_DAY_FORMAT"),
                "name": one.name,
                "credits": credits,
            }
            x = LEFT + n * slot + (slot - bar) / 2
            segments.append(Segment(_px(x), _px(base), _px(bar), _px(height), one.fill, title))
    return segments


def _y_ticks(top: int) -> list[Tick]:
    """Lines at whole numbers: five steps up a top of 1 or 5 times 10ⁿ, four up 2 times 10ⁿ."""
    plot_height = HEIGHT - TOP - BOTTOM
    steps = min(top, 4 if str(top)[0] == "2" else 5)
    return [
        Tick(
            _px(HEIGHT - BOTTOM - plot_height * i / steps),
            number_format(top * i // steps, force_grouping=True),
        )
        for i in range(steps + 1)
    ]


def _x_ticks(days: list[date]) -> list[Tick]:
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    every = max(1, math.ceil(len(days) / X_LABELS))
    return [
        Tick(_px(LEFT + n * slot + slot / 2), date_format(day, "SHORT_MONTH_DAY_FORMAT"))
        for n, day in enumerate(days)
        if n % every == 0
    ]
