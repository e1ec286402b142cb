"""The report as one HTML page for managers, readable without a network: the charts are inline
SVG, the styles and the one script inline, and nothing refers to anything outside the file."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from importlib.resources import files

from jinja2 import Environment, StrictUndefined
from matplotlib import rc_context

from domain.money import Money, minor_units
from domain.reports.model import GoalDirection, PortfolioReport, Ratio, ReportGroup
from jobs.report_export.charts import Chart, charts
from jobs.report_export.figures import figure_rows, percent, title

_CENT = Decimal("0.01")

# Read from the package (installed, it ships as package data).
_TEMPLATE = Environment(
    autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
).from_string(files("jobs.report_export").joinpath("report.html.j2").read_text(encoding="utf-8"))


def _value(ratio: Ratio) -> str:
    if ratio.scale == 1:
        return percent(ratio.value)
    return f"{ratio.value.quantize(_CENT, rounding=ROUND_HALF_EVEN)} per {ratio.scale:,}"


def _goal(ratio: Ratio) -> str:
    if ratio.goal is None:
        return ""
    side = "below" if ratio.goal.direction is GoalDirection.BELOW else "above"
    return f"{side} {percent(ratio.goal.target)}"


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
            for f in figure_rows(group)
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


def to_html(report: PortfolioReport, view: str) -> str:
    """The manager's page, titled with whose cases it counts (``view``): for each currency, four
    charts of its totals (aging, roll rates, days to recovery, goal vs actual) and the figures,
    then a table per group."""
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
                totals=_table(total, view),
                charts=charts(total, report),
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
        title=title(report, view),
        view=view,
        period=f"{report.period.start} to {report.period.end} ({report.period.days} days, "
        f"each portfolio's own calendar){grouped}",
        grouping=report.grouping.value.capitalize() if report.grouping else "",
        currencies=currencies,
        expected=sum(len(part.charts) for part in currencies),
    )
