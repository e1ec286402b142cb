"""The report as CSV for analysts: one tidy row per group and figure, every number exact."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal

from domain.reports.model import PortfolioReport, Ratio, ReportGroup
from jobs.report_export.figures import figure_rows, sections

CSV_COLUMNS = (
    "from",
    "to",
    "view",
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
# The columns of names (the others hold numbers, dates and booleans, which a spreadsheet may read
# as such: a negative value keeps its sign).
TEXT_COLUMNS = frozenset({"view", "section", "key", "currency", "figure", "label"})
# What makes a spreadsheet read a cell as a formula (OWASP's list: = + - @, tab and return).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(name: str) -> str:
    """A name a spreadsheet shows as written: one that would start a formula (a team or
    strategy called ``=HYPERLINK(…)``) gets a leading apostrophe, as Excel's own escape."""
    return f"'{name}" if name.startswith(FORMULA_STARTS) else name


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


def _rows(group: ReportGroup) -> Iterator[dict[str, str]]:
    yield {"figure": "recovered", "amount": _plain(group.recovered.amount)}
    for figure in figure_rows(group):
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


def to_csv(report: PortfolioReport, view: str) -> str:
    """One row per group and figure (the totals first), every value exact as the report has it,
    each row naming whose cases it counts (``view``)."""
    sink = io.StringIO()
    writer = csv.DictWriter(sink, fieldnames=CSV_COLUMNS, restval="")
    writer.writeheader()
    for section, group in sections(report):
        where = {
            "from": report.period.start.isoformat(),
            "to": report.period.end.isoformat(),
            "view": view,
            "section": section,
            "key": group.key or "",
            "currency": group.currency,
        }
        for row in _rows(group):
            cells = where | row
            writer.writerow({k: as_text(v) if k in TEXT_COLUMNS else v for k, v in cells.items()})
    return sink.getvalue()
