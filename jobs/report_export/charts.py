"""The HTML report's charts: inline SVG drawn by matplotlib off screen, their text as paths (no
font to fetch), their ids prefixed so that several fit in one page."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from domain.reports.model import PortfolioReport, ReportGroup
from jobs.report_export.figures import figure_rows, matrix, percent

NO_DATA = "no data for this period"
BLUE, ORANGE, GREEN, RED = "#4C78A8", "#F58518", "#54A24B", "#E45756"
# Dropped from the SVG: the creator, date and format matplotlib would add (metadata with links).
_NO_METADATA: dict[str, str | None] = {"Creator": None, "Date": None, "Format": None, "Type": None}
# How far the goal chart's axis reaches when no value or goal is above zero (it needs a range).
_EMPTY_GOAL_AXIS = 0.05
# Room beside the longest bar for its label.
_LABEL_ROOM = 1.25


@dataclass(frozen=True, slots=True)
class Chart:
    id: str  # stable: the kind of chart and the currency, e.g. "aging-CNY"
    caption: str
    svg: Markup


def _canvas(width: float = 6.4, height: float = 3.4) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)  # drawn off screen: no display, no GUI toolkit
    return figure


def _inline(svg: str, prefix: str) -> str:
    """Makes a matplotlib SVG document fit for inlining beside others: no XML prolog or
    namespace declarations (HTML needs neither, and they are the only addresses in it), and
    every id prefixed with the chart's so that no two charts share one."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m[1]}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m[1]}"', svg)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m[1]})", svg)


def _draw(chart_id: str, caption: str, figure: Figure) -> Chart:
    sink = io.StringIO()
    figure.savefig(sink, format="svg", metadata=_NO_METADATA)
    return Chart(chart_id, caption, Markup(_inline(sink.getvalue(), chart_id)))


def _no_data(figure: Figure, title: str) -> Figure:
    figure.text(0.5, 0.58, title, ha="center", va="center", fontsize=11, weight="bold")
    figure.text(0.5, 0.42, NO_DATA, ha="center", va="center", color="#666666", fontsize=11)
    return figure


def _bars(axes: Any, labels: list[str], heights: list[int] | list[float], color: str) -> Any:
    """Bars at positions named by ``labels`` (never matplotlib's string categories, which
    guess whether a label such as "0-30" is a date)."""
    positions = list(range(len(labels)))
    bars = axes.bar(positions, heights, color=color)
    axes.set_xticks(positions, labels)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    return bars


def aging_chart(group: ReportGroup, title: str) -> Figure:
    figure = _canvas()
    if not group.aging:
        return _no_data(figure, title)
    buckets = [bucket.bucket for bucket in group.aging]
    cases, outstanding = figure.subplots(1, 2)
    cases.bar_label(_bars(cases, buckets, [b.cases for b in group.aging], BLUE), fontsize=7)
    cases.set_title("Cases")
    # Bar heights only: a chart needs floats, nobody adds these up again.
    _bars(outstanding, buckets, [float(b.outstanding.amount) for b in group.aging], ORANGE)
    outstanding.set_title(f"Outstanding ({group.currency})")
    outstanding.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    figure.suptitle(title, weight="bold")
    return figure


def roll_chart(group: ReportGroup, title: str) -> Figure:
    rows, columns, cells = matrix(group.roll_rates)
    figure = _canvas(6.4, 1.6 + 0.38 * max(len(rows), 1))
    if not rows:
        return _no_data(figure, title)
    axes = figure.subplots()
    shares = [
        [float(cells[r, c].by_count.value) if (r, c) in cells else 0.0 for c in columns]
        for r in rows
    ]
    # Vector cells, each labelled with its share (a colour bar would be a raster image).
    axes.pcolormesh(shares, cmap="Blues", vmin=0.0, vmax=1.0, edgecolors="white")
    for y, origin in enumerate(rows):
        for x, destination in enumerate(columns):
            if (origin, destination) in cells:
                share = shares[y][x]
                axes.text(
                    x + 0.5,
                    y + 0.5,
                    f"{share:.0%}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if share > 0.6 else "black",
                )
    axes.set_xticks([x + 0.5 for x in range(len(columns))], columns, fontsize=7)
    axes.set_yticks([y + 0.5 for y in range(len(rows))], rows)
    axes.invert_yaxis()
    axes.set_xlabel("Where the month ended")
    axes.set_ylabel("Bucket at the month's start")
    axes.set_title(title, weight="bold")
    return figure


def recovery_chart(group: ReportGroup, title: str) -> Figure:
    figure = _canvas()
    if not any(count.cases for count in group.days_to_recovery):
        return _no_data(figure, title)
    axes = figure.subplots()
    labels = [count.label for count in group.days_to_recovery]
    bars = _bars(axes, labels, [count.cases for count in group.days_to_recovery], GREEN)
    axes.bar_label(bars, fontsize=7)
    axes.set_xlabel("Days from going overdue to recovery")
    axes.set_ylabel("Cases recovered")
    axes.set_title(title, weight="bold")
    return figure


def goal_chart(group: ReportGroup, title: str) -> Figure:
    judged = [f for f in figure_rows(group) if f.ratio.goal and f.ratio.meets_goal is not None]
    figure = _canvas(6.4, 1.4 + 0.45 * max(len(judged), 1))
    if not judged:
        return _no_data(figure, title)
    axes = figure.subplots()
    rows = list(range(len(judged)))
    values = [float(f.ratio.value) for f in judged]
    targets = [float(f.ratio.goal.target) for f in judged if f.ratio.goal]
    colors = [GREEN if f.ratio.meets_goal else RED for f in judged]
    bars = axes.barh(rows, values, color=colors, height=0.6)
    axes.bar_label(bars, [percent(f.ratio.value) for f in judged], padding=3, fontsize=7)
    for row, target in zip(rows, targets, strict=True):
        axes.plot([target, target], [row - 0.4, row + 0.4], color="black", linewidth=2)
    axes.set_yticks(rows, [f.title for f in judged])
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:.0%}"))
    # From zero, or from a negative value (recoveries that outweighed the losses) with room for
    # its label, to past the largest value or goal; never an empty range (all zero).
    highest = max(*values, *targets)
    left = min(0.0, *values, *targets) * _LABEL_ROOM
    right = (highest if highest > 0 else _EMPTY_GOAL_AXIS) * _LABEL_ROOM
    axes.set_xlim(left, right)
    axes.set_title(title, weight="bold")
    return figure


def charts(total: ReportGroup, report: PortfolioReport) -> list[Chart]:
    """The four charts of a currency's totals."""
    currency, end = total.currency, report.period.end
    return [
        _draw(
            f"aging-{currency}",
            f"Cases in collection and what they owe, by bucket, at {end}.",
            aging_chart(total, f"Aging at {end} ({currency})"),
        ),
        _draw(
            f"roll-rates-{currency}",
            "Where debts overdue at the start of a month were at its end, by count, pooled "
            "over the months of the period.",
            roll_chart(total, f"Roll rates by count ({currency})"),
        ),
        _draw(
            f"days-to-recovery-{currency}",
            "Cases that returned to current in the period, by the days their delinquency lasted.",
            recovery_chart(total, f"Recovery by days since overdue ({currency})"),
        ),
        _draw(
            f"goals-{currency}",
            "Each figure with a goal: its value in the period (green meets the goal, red misses "
            "it) and the goal (the black line).",
            goal_chart(total, f"Goal vs actual ({currency})"),
        ),
    ]
