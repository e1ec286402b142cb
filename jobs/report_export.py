"""The portfolio report as files: CSV (one tidy row per group and figure) and XLSX for analysts,
and a self-contained HTML page with charts for managers.

The HTML page is readable without a network: the charts are inline SVG drawn by matplotlib with
their text as paths (no font to fetch), the styles and the one script are inline, and nothing
refers to anything outside the file. Every ratio of a group is listed once, in ``_ratios``,
and the three formats read that list, so that they never disagree on what a report holds.
"""

from __future__ import annotations

import csv
import enum
import io
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import openpyxl  # type: ignore[import-untyped]  # no stubs shipped; used through a few calls
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side  # type: ignore[import-untyped]
from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.money import Money, minor_units
from domain.reports.goals import Goals
from domain.reports.model import (
    GoalDirection,
    Grouping,
    Period,
    PortfolioReport,
    Ratio,
    ReportGroup,
    RollRate,
)
from store import report_queries


class ReportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    HTML = "html"


async def portfolio_report(
    engine: AsyncEngine,
    period: Period,
    grouping: Grouping | None,
    goals: Goals,
    scope: ColumnElement[bool] | None = None,
) -> PortfolioReport:
    """Returns the report over every case (``scope`` None: the whole book, over which figures
    against the loan book apply) or over the cases a clause on ``cases`` lets its reader see."""
    async with engine.connect() as conn:
        return await report_queries.portfolio_report(
            conn,
            period,
            grouping,
            true() if scope is None else scope,
            whole_book=scope is None,
            goals=goals,
        )


def write_report(report: PortfolioReport, fmt: ReportFormat, path: Path) -> None:
    """Writes the report to ``path`` whole or not at all (a failed write leaves no half file)."""
    content = render(report, fmt)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as sink:
            sink.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render(report: PortfolioReport, fmt: ReportFormat) -> bytes:
    if fmt is ReportFormat.CSV:
        return to_csv(report).encode("utf-8")
    if fmt is ReportFormat.XLSX:
        return to_xlsx(report)
    return to_html(report).encode("utf-8")


# ---- the figures of a group, in the order every format shows them -----------------------------


@dataclass(frozen=True, slots=True)
class _Figure:
    name: str  # named as in the API, so that analysts and clients share one vocabulary
    title: str  # what a manager reads
    ratio: Ratio
    money: bool  # numerator and denominator are amounts (else counts)
    label: str = ""


def _ratios(group: ReportGroup) -> list[_Figure]:
    """Every ratio of a group; the overdue rates and the annualised cost only where a loan book
    gives them a denominator (absent, not zero)."""
    figures = [
        _Figure(
            "overdueRate",
            f"Overdue rate (DPD ≥ {t.min_days_past_due})",
            t.ratio,
            money=True,
            label=f"dpd>={t.min_days_past_due}",
        )
        for t in group.overdue_rates
    ]
    figures += [
        _Figure("cureRate", "Cure rate", group.cure_rate, money=False),
        _Figure("recoveryRate", "Recovery rate", group.recovery_rate, money=True),
        _Figure(
            "resolvedWithin30Days",
            "Resolved within 30 days",
            group.resolved_within_30_days,
            money=False,
        ),
        _Figure("lossRate", "Loss rate", group.loss_rate, money=True),
        _Figure("costOfCollection", "Cost of collection", group.cost_of_collection, money=True),
    ]
    if group.annualised_cost_vs_loan_book is not None:
        figures.append(
            _Figure(
                "annualisedCostVsLoanBook",
                "Annualised cost vs loan book",
                group.annualised_cost_vs_loan_book,
                money=True,
            )
        )
    figures += [
        _Figure("promiseKeptRate", "Promise kept rate", group.promise_kept_rate, money=False),
        _Figure(
            "complaintsPer1000", "Complaints per 1,000 cases", group.complaints_per_1000, False
        ),
    ]
    return figures


def _sections(report: PortfolioReport) -> Iterator[tuple[str, ReportGroup]]:
    for group in report.totals:
        yield "totals", group
    for group in report.groups:
        yield "groups", group


# Where a debt can end a month besides a bucket (the roll rates' extra columns), in this order.
DESTINATIONS = ("CURED", "PAID", "WRITTEN_OFF")


def _bucket_order(name: str) -> tuple[int, str]:
    return (1 + DESTINATIONS.index(name), "") if name in DESTINATIONS else (0, name)


def _matrix(rolls: list[RollRate]) -> tuple[list[str], list[str], dict[tuple[str, str], RollRate]]:
    """The roll rates as a from × to matrix: its rows, its columns and its cells."""
    cells = {(r.from_bucket, r.to_bucket): r for r in rolls}
    rows = sorted({r.from_bucket for r in rolls}, key=_bucket_order)
    columns = sorted({r.to_bucket for r in rolls}, key=_bucket_order)
    return rows, columns, cells


# ---- CSV ---------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "from",
    "to",
    "section",
    "key",
    "currency",
    "figure",
    "label",
    "value",
    "numerator",
    "denominator",
    "goal",
    "meets_goal",
    "cases",
    "amount",
)


def _plain(value: Decimal | None) -> str:
    """A Decimal as it is, never in exponent notation (no value: an empty cell)."""
    return "" if value is None else format(value, "f")


def _ratio_cells(ratio: Ratio) -> dict[str, str]:
    verdict = ratio.meets_goal
    return {
        "value": _plain(ratio.value),
        "numerator": _plain(ratio.numerator),
        "denominator": _plain(ratio.denominator),
        "goal": _plain(ratio.goal.target) if ratio.goal else "",
        "meets_goal": "" if verdict is None else str(verdict).lower(),
    }


def _csv_rows(group: ReportGroup) -> Iterator[dict[str, str]]:
    yield {"figure": "recovered", "amount": _plain(group.recovered.amount)}
    for figure in _ratios(group):
        yield {"figure": figure.name, "label": figure.label, **_ratio_cells(figure.ratio)}
    for bucket in group.aging:
        yield {
            "figure": "aging",
            "label": bucket.bucket,
            "cases": str(bucket.cases),
            "amount": _plain(bucket.outstanding.amount),
        }
    for roll in group.roll_rates:
        label = f"{roll.from_bucket}->{roll.to_bucket}"
        yield {"figure": "rollRateByCount", "label": label, **_ratio_cells(roll.by_count)}
        yield {"figure": "rollRateByBalance", "label": label, **_ratio_cells(roll.by_balance)}
    for count in group.days_to_recovery:
        yield {"figure": "daysToRecovery", "label": count.label, "cases": str(count.cases)}


def to_csv(report: PortfolioReport) -> str:
    """One row per group and figure (the totals first), every value exact as the report has it."""
    sink = io.StringIO()
    writer = csv.DictWriter(sink, fieldnames=CSV_COLUMNS, restval="")
    writer.writeheader()
    for section, group in _sections(report):
        where = {
            "from": report.period.start.isoformat(),
            "to": report.period.end.isoformat(),
            "section": section,
            "key": group.key or "",
            "currency": group.currency,
        }
        for row in _csv_rows(group):
            writer.writerow(where | row)
    return sink.getvalue()


# ---- XLSX --------------------------------------------------------------------------------------

PERCENT = "0.00%"
PER_1000 = "0.0000"
AMOUNT = "#,##0.00"
COUNT = "#,##0"
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="33475B")
_HEADER_BORDER = Border(bottom=Side(style="thin", color="000000"))


def _title(report: PortfolioReport) -> str:
    grouped = f", by {report.grouping.value.lower()}" if report.grouping else ""
    return f"Portfolio report {report.period.start} to {report.period.end}{grouped}"


def _sheet(book: Any, name: str, title: str, header: list[str], widths: list[int]) -> Any:
    """A sheet with the report's title above a styled header row, both kept in view."""
    sheet = book.create_sheet(name)
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(header)
    for cell in sheet[2]:
        cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _HEADER_BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for index, width in enumerate(widths, 1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = width
    sheet.freeze_panes = "A3"
    return sheet


def _formats(sheet: Any, formats: dict[int, str]) -> None:
    """Gives the last row's cells their number formats (by 1-based column)."""
    row = sheet.max_row
    for column, number_format in formats.items():
        sheet.cell(row=row, column=column).number_format = number_format


def _rate_format(ratio: Ratio) -> str:
    return PER_1000 if ratio.scale != 1 else PERCENT


def to_xlsx(report: PortfolioReport) -> bytes:
    """A workbook with a sheet per section: Summary (the ratios), Aging, Roll rates (a from × to
    matrix per group and currency) and Days to recovery. Amounts and rates are written as the
    report's Decimals (exact in the file), shown with number formats."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    title = book.properties.title = _title(report)
    where = ["Section", "Key", "Currency"]
    summary = _sheet(
        book,
        "Summary",
        title,
        [*where, "Figure", "Value", "Numerator", "Denominator", "Goal", "Meets goal"],
        [10, 18, 10, 32, 14, 18, 18, 10, 11],
    )
    aging = _sheet(
        book, "Aging", title, [*where, "Bucket", "Cases", "Outstanding"], [10, 18, 10, 10, 10, 18]
    )
    _rolls_sheet(book, report, title)
    recovery = _sheet(
        book,
        "Days to recovery",
        title,
        [*where, "Days since overdue", "Cases"],
        [10, 18, 10, 20, 10],
    )
    for section, group in _sections(report):
        at = [section, group.key, group.currency]
        summary.append([*at, "Recovered", group.recovered.amount])
        _formats(summary, {5: AMOUNT})
        for figure in _ratios(group):
            ratio = figure.ratio
            goal = ratio.goal.target if ratio.goal else None
            numbers = [ratio.value, ratio.numerator, ratio.denominator, goal]
            summary.append([*at, figure.title, *numbers, ratio.meets_goal])
            size = AMOUNT if figure.money else COUNT
            _formats(summary, {5: _rate_format(ratio), 6: size, 7: size, 8: PERCENT})
        for bucket in group.aging:
            aging.append([*at, bucket.bucket, bucket.cases, bucket.outstanding.amount])
            _formats(aging, {5: COUNT, 6: AMOUNT})
        for count in group.days_to_recovery:
            recovery.append([*at, count.label, count.cases])
            _formats(recovery, {5: COUNT})
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def _rolls_sheet(book: Any, report: PortfolioReport, title: str) -> Any:
    """Each group's roll rates as a from × to matrix, by count then by balance, under one header
    whose destination columns are every bucket any group rolled to; ``Base`` is what the row's
    rates divide by (the debts, or their balance, in the bucket at the start of a month)."""
    every = [roll for _, group in _sections(report) for roll in group.roll_rates]
    _, columns, _ = _matrix(every)
    sheet = _sheet(
        book,
        "Roll rates",
        title,
        ["Section", "Key", "Currency", "Measure", "From", *columns, "Base"],
        [10, 18, 10, 12, 8, *[12] * len(columns), 18],
    )
    shares = {6 + n: PERCENT for n in range(len(columns))}
    measures: list[tuple[str, Callable[[RollRate], Ratio], str]] = [
        ("by count", lambda roll: roll.by_count, COUNT),
        ("by balance", lambda roll: roll.by_balance, AMOUNT),
    ]
    for section, group in _sections(report):
        rows, _, cells = _matrix(group.roll_rates)
        for measure, ratio_of, base_format in measures:
            for origin in rows:
                ratios = [
                    ratio_of(cells[origin, to]) if (origin, to) in cells else None for to in columns
                ]
                base = next(r.denominator for r in ratios if r is not None)
                values = [r.value if r else None for r in ratios]
                sheet.append([section, group.key, group.currency, measure, origin, *values, base])
                _formats(sheet, shares | {6 + len(columns): base_format})
    return sheet


# ---- HTML: charts ------------------------------------------------------------------------------

NO_DATA = "no data for this period"
BLUE, ORANGE, GREEN, RED = "#4C78A8", "#F58518", "#54A24B", "#E45756"
# Dropped from the SVG: the creator, date and format matplotlib would add (metadata with links).
_NO_METADATA: dict[str, str | None] = {"Creator": None, "Date": None, "Format": None, "Type": None}


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


def _aging_chart(group: ReportGroup, title: str) -> Figure:
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


def _roll_chart(group: ReportGroup, title: str) -> Figure:
    rows, columns, cells = _matrix(group.roll_rates)
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


def _recovery_chart(group: ReportGroup, title: str) -> Figure:
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


def _goal_chart(group: ReportGroup, title: str) -> Figure:
    judged = [f for f in _ratios(group) if f.ratio.goal and f.ratio.meets_goal is not None]
    figure = _canvas(6.4, 1.4 + 0.45 * max(len(judged), 1))
    if not judged:
        return _no_data(figure, title)
    axes = figure.subplots()
    rows = list(range(len(judged)))
    values = [float(f.ratio.value) for f in judged]
    targets = [float(f.ratio.goal.target) for f in judged if f.ratio.goal]
    colors = [GREEN if f.ratio.meets_goal else RED for f in judged]
    bars = axes.barh(rows, values, color=colors, height=0.6)
    axes.bar_label(bars, [_percent(f.ratio.value) for f in judged], padding=3, fontsize=7)
    for row, target in zip(rows, targets, strict=True):
        axes.plot([target, target], [row - 0.4, row + 0.4], color="black", linewidth=2)
    axes.set_yticks(rows, [f.title for f in judged])
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(StrMethodFormatter("{x:.0%}"))
    axes.set_xlim(0, max(values + targets) * 1.25)
    axes.set_title(title, weight="bold")
    return figure


def _charts(total: ReportGroup, report: PortfolioReport) -> list[Chart]:
    currency, end = total.currency, report.period.end
    return [
        _draw(
            f"aging-{currency}",
            f"Cases in collection and what they owe, by bucket, at {end}.",
            _aging_chart(total, f"Aging at {end} ({currency})"),
        ),
        _draw(
            f"roll-rates-{currency}",
            "Where debts overdue at the start of a month were at its end, by count, pooled "
            "over the months of the period.",
            _roll_chart(total, f"Roll rates by count ({currency})"),
        ),
        _draw(
            f"days-to-recovery-{currency}",
            "Cases that returned to current in the period, by the days their delinquency lasted.",
            _recovery_chart(total, f"Recovery by days since overdue ({currency})"),
        ),
        _draw(
            f"goals-{currency}",
            "Each figure with a goal: its value in the period (green meets the goal, red misses "
            "it) and the goal (the black line).",
            _goal_chart(total, f"Goal vs actual ({currency})"),
        ),
    ]


# ---- HTML: the page ----------------------------------------------------------------------------

_CENT = Decimal("0.01")


def _percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(_CENT, rounding=ROUND_HALF_EVEN)}%"


def _value(ratio: Ratio) -> str:
    if ratio.scale == 1:
        return _percent(ratio.value)
    return f"{ratio.value.quantize(_CENT, rounding=ROUND_HALF_EVEN)} per {ratio.scale:,}"


def _goal(ratio: Ratio) -> str:
    if ratio.goal is None:
        return ""
    side = "below" if ratio.goal.direction is GoalDirection.BELOW else "above"
    return f"{side} {_percent(ratio.goal.target)}"


def _verdict(ratio: Ratio) -> str:
    if ratio.goal is None:
        return ""
    return {True: "meets", False: "misses", None: "no data"}[ratio.meets_goal]


def _money(money: Money) -> str:
    return f"{money.amount:,.{minor_units(money.currency)}f} {money.currency}"


def _quantity(value: Decimal, money: bool, currency: str) -> str:
    return f"{value:,.{minor_units(currency)}f}" if money else f"{value:,.0f}"


@dataclass(frozen=True, slots=True)
class _Table:
    """A group's figures as a manager reads them."""

    name: str
    recovered: str
    in_collection: int
    outstanding: str
    rows: list[tuple[str, str, str, str, str, str]]  # figure, value, goal, verdict, num., den.
    aging: list[tuple[str, int, str]]


def _table(group: ReportGroup, name: str) -> _Table:
    currency = group.currency
    outstanding = sum((b.outstanding for b in group.aging), Money.zero(currency))
    return _Table(
        name=name,
        recovered=_money(group.recovered),
        in_collection=sum(bucket.cases for bucket in group.aging),
        outstanding=_money(outstanding),
        rows=[
            (
                f.title,
                _value(f.ratio),
                _goal(f.ratio),
                _verdict(f.ratio),
                _quantity(f.ratio.numerator, f.money, currency),
                _quantity(f.ratio.denominator, f.money, currency),
            )
            for f in _ratios(group)
        ],
        aging=[(b.bucket, b.cases, _money(b.outstanding)) for b in group.aging],
    )


def _group_name(report: PortfolioReport, key: str | None) -> str:
    if key is not None:
        return key
    return f"(no {report.grouping.value.lower()})" if report.grouping else "(none)"


@dataclass(frozen=True, slots=True)
class _Currency:
    currency: str
    totals: _Table
    charts: list[Chart]
    groups: list[_Table]


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1d2733; }
h1 { margin-bottom: 0.2rem; } .period { color: #55606e; margin-top: 0; }
section.currency { border-top: 3px solid #33475b; margin-top: 2rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(30rem, 1fr)); gap: 1rem; }
figure.chart { margin: 0; border: 1px solid #d8dee4; border-radius: 4px; padding: 0.5rem; }
figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 0.85rem; color: #55606e; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e4e8ec; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #33475b; color: #fff; }
.meets { color: #2e7d32; font-weight: 600; } .misses { color: #c62828; font-weight: 600; }
.summary { font-size: 1.05rem; }
</style>
</head>
<body data-charts-expected="{{ expected }}">
<h1>Portfolio report</h1>
<p class="period">{{ period }}</p>
{% macro figures(table) %}
<p class="summary">Recovered <strong>{{ table.recovered }}</strong>;
{{ table.in_collection }} cases in collection owing {{ table.outstanding }} at the period's end.</p>
<table>
<thead><tr><th>Figure</th><th>Value</th><th>Goal</th><th>Verdict</th><th>Numerator</th>
<th>Denominator</th></tr></thead>
<tbody>
{% for name, value, goal, verdict, numerator, denominator in table.rows %}
<tr><td>{{ name }}</td><td>{{ value }}</td><td>{{ goal }}</td>
<td class="{{ verdict }}">{{ verdict }}</td><td>{{ numerator }}</td><td>{{ denominator }}</td></tr>
{% endfor %}
</tbody>
</table>
{% if table.aging %}
<table>
<thead><tr><th>Bucket</th><th>Cases</th><th>Outstanding</th></tr></thead>
<tbody>
{% for bucket, cases, outstanding in table.aging %}
<tr><td>{{ bucket }}</td><td>{{ cases }}</td><td>{{ outstanding }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}
{% endmacro %}
{% for part in currencies %}
<section class="currency" id="currency-{{ part.currency }}">
<h2>{{ part.currency }}</h2>
<div class="charts">
{% for chart in part.charts %}
<figure class="chart" data-chart="{{ chart.id }}">
{{ chart.svg }}
<figcaption>{{ chart.caption }}</figcaption>
</figure>
{% endfor %}
</div>
<h3>All cases in {{ part.currency }}</h3>
{{ figures(part.totals) }}
{% for group in part.groups %}
<h3>{{ grouping }}: {{ group.name }}</h3>
{{ figures(group) }}
{% endfor %}
</section>
{% else %}
<p>No figures for this period: no daily run had completed by its end, or no case is in view.</p>
{% endfor %}
<script>
window.addEventListener("load", function () {
  var rendered = 0;
  document.querySelectorAll("figure.chart").forEach(function (figure) {
    var svg = figure.querySelector("svg");
    if (!svg) { return; }
    var drawn = svg.getBBox(), shown = svg.getBoundingClientRect();
    if (drawn.width > 0 && drawn.height > 0 && shown.width > 0 && shown.height > 0) {
      rendered += 1;
      figure.dataset.rendered = "true";
    }
  });
  document.body.dataset.chartsRendered = String(rendered);
});
</script>
</body>
</html>
"""

_TEMPLATE = Environment(
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
).from_string(_PAGE)


def to_html(report: PortfolioReport) -> str:
    """The manager's page: for each currency, four charts of its totals (aging, roll rates, days
    to recovery, goal vs actual) and the figures, then a table per group."""
    # Text drawn as paths (nothing to fetch, the same letters everywhere); a fixed salt keeps the
    # ids matplotlib makes the same from one run to the next.
    with rc_context(
        {
            "svg.fonttype": "path",
            "svg.hashsalt": "arrears-report",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        currencies = [
            _Currency(
                currency=total.currency,
                totals=_table(total, "All cases"),
                charts=_charts(total, report),
                groups=[
                    _table(group, _group_name(report, group.key))
                    for group in report.groups
                    if group.currency == total.currency
                ],
            )
            for total in report.totals
        ]
    grouped = f", by {report.grouping.value.lower()}" if report.grouping else ""
    return _TEMPLATE.render(
        title=_title(report),
        period=f"{report.period.start} to {report.period.end} ({report.period.days} days, "
        f"each portfolio's own calendar){grouped}",
        grouping=report.grouping.value.capitalize() if report.grouping else "",
        currencies=currencies,
        expected=sum(len(part.charts) for part in currencies),
    )
