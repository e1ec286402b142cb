"""What every format of the report shows, in the same order: the figures of a group, its
sections, the roll-rate matrix and the report's title, so that the files never disagree."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from domain.reports.model import PortfolioReport, Ratio, ReportGroup, RollRate

# The view of a report over every case (the whole book).
ALL_CASES = "All cases"

# Where a debt can end a month besides a bucket (the roll rates' extra columns), in this order.
DESTINATIONS = ("CURED", "PAID", "WRITTEN_OFF")

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class FigureRow:
    name: str  # named as in the API, so that analysts and clients share one vocabulary
    title: str  # what a manager reads
    ratio: Ratio
    money: bool  # numerator and denominator are amounts (else counts)
    label: str = ""


def view_of(login: str, team: str | None = None, agency: str | None = None) -> str:
    """Names whose cases a scoped report counts: ``Cases in view of lead1 (team East)``."""
    where = f" (team {team})" if team else f" (agency {agency})" if agency else ""
    return f"Cases in view of {login}{where}"


def title(report: PortfolioReport, view: str) -> str:
    grouped = f", by {report.grouping.value.lower()}" if report.grouping else ""
    return f"Portfolio report {report.period.start} to {report.period.end}{grouped} — {view}"


def figure_rows(group: ReportGroup) -> list[FigureRow]:
    """Every ratio of a group; the overdue rates and the annualised cost only where a loan book
    gives them a denominator (absent, not zero)."""
    rows = [
        FigureRow(
            "overdueRate",
            f"Overdue rate (DPD ≥ {t.min_days_past_due})",
            t.ratio,
            money=True,
            label=f"dpd>={t.min_days_past_due}",
        )
        for t in group.overdue_rates
    ]
    rows += [
        FigureRow("cureRate", "Cure rate", group.cure_rate, money=False),
        FigureRow("recoveryRate", "Recovery rate", group.recovery_rate, money=True),
        FigureRow(
            "resolvedWithin30Days",
            "Resolved within 30 days",
            group.resolved_within_30_days,
            money=False,
        ),
        FigureRow("lossRate", "Loss rate", group.loss_rate, money=True),
        FigureRow("costOfCollection", "Cost of collection", group.cost_of_collection, money=True),
    ]
    if group.annualised_cost_vs_loan_book is not None:
        rows.append(
            FigureRow(
                "annualisedCostVsLoanBook",
                "Annualised cost vs loan book",
                group.annualised_cost_vs_loan_book,
                money=True,
            )
        )
    rows += [
        FigureRow("promiseKeptRate", "Promise kept rate", group.promise_kept_rate, money=False),
        FigureRow(
            "complaintsPer1000", "Complaints per 1,000 cases", group.complaints_per_1000, False
        ),
    ]
    return rows


def sections(report: PortfolioReport) -> Iterator[tuple[str, ReportGroup]]:
    for group in report.totals:
        yield "totals", group
    for group in report.groups:
        yield "groups", group


def _bucket_order(name: str) -> tuple[int, str]:
    return (1 + DESTINATIONS.index(name), "") if name in DESTINATIONS else (0, name)


def matrix(rolls: list[RollRate]) -> tuple[list[str], list[str], dict[tuple[str, str], RollRate]]:
    """The roll rates as a from × to matrix: its rows, its columns and its cells."""
    cells = {(r.from_bucket, r.to_bucket): r for r in rolls}
    rows = sorted({r.from_bucket for r in rolls}, key=_bucket_order)
    columns = sorted({r.to_bucket for r in rolls}, key=_bucket_order)
    return rows, columns, cells


def percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(_CENT, rounding=ROUND_HALF_EVEN)}%"
