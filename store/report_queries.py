"""The portfolio report: every figure of every group, put together from a fixed number of
``GROUP BY`` queries (positions, money flows, outcomes), once for the groups and once for the
totals (one group per currency) — the statement count does not grow with the number of cases."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.money import Money
from domain.reports.goals import Goals
from domain.reports.model import (
    CountBucket,
    Grouping,
    Period,
    PortfolioReport,
    Ratio,
    ReportGroup,
)
from store import report_flows, report_outcomes, report_positions
from store.report_basis import GroupId, Observations, analysed, loan_book_applies, observe
from store.report_outcomes import DAYS_TO_RECOVERY


def _none() -> Ratio:
    return Ratio(Decimal(0), Decimal(0))


async def _groups(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    *,
    whole_book: bool,
    goals: Goals,
) -> list[ReportGroup]:
    book = loan_book_applies(grouping, whole_book)
    aging = await report_positions.aging(conn, observations, grouping, scope)
    overdue = (
        await report_positions.overdue_rates(conn, observations, grouping, goals) if book else {}
    )
    rolls = await report_positions.rolls(conn, observations, grouping, scope, goals)
    flows = await report_flows.money_flows(
        conn, observations, grouping, scope, goals, loan_book=book
    )
    outcomes = await report_outcomes.outcomes(conn, observations, grouping, scope, goals)
    ids: set[GroupId] = {*aging, *rolls, *flows, *outcomes}
    if book:
        # A group only on the loan book (no case in collection) has an overdue rate of zero.
        ids |= set(overdue)
    groups: list[ReportGroup] = []
    for gid in sorted(ids, key=lambda g: (g[0] is None, g[0] or "", g[1])):
        key, currency = gid
        roll = rolls.get(gid)
        flow = flows.get(gid)
        outcome = outcomes.get(gid)
        groups.append(
            ReportGroup(
                key=key,
                currency=currency,
                recovered=flow.recovered if flow else Money.zero(currency),
                aging=aging.get(gid, []),
                overdue_rates=overdue.get(gid, []),
                cure_rate=roll.cure_rate if roll else _none(),
                recovery_rate=flow.recovery_rate if flow else _none(),
                resolved_within_30_days=(
                    outcome.resolved_within_30_days
                    if outcome
                    else Ratio(Decimal(0), Decimal(0), goals.resolved_within_30_days)
                ),
                loss_rate=roll.loss_rate
                if roll
                else Ratio(Decimal(0), Decimal(0), goals.loss_rate),
                cost_of_collection=flow.cost_of_collection if flow else _none(),
                annualised_cost_vs_loan_book=flow.annualised_cost_vs_loan_book if flow else None,
                days_to_recovery=(
                    outcome.days_to_recovery
                    if outcome
                    else [CountBucket(label, 0) for label, _, _ in DAYS_TO_RECOVERY]
                ),
                promise_kept_rate=outcome.promise_kept_rate if outcome else _none(),
                complaints_per_1000=(
                    outcome.complaints_per_1000
                    if outcome
                    else Ratio(Decimal(0), Decimal(0), scale=1000)
                ),
                roll_rates=roll.roll_rates if roll else [],
            )
        )
    return groups


@analysed
async def portfolio_report(
    conn: AsyncConnection,
    period: Period,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    *,
    whole_book: bool,
    goals: Goals,
) -> PortfolioReport:
    """Returns the report of ``period`` grouped by ``grouping`` (None: the totals only) over the
    cases ``scope`` lets the caller see (a clause over ``cases``; ``whole_book`` when it is every
    case, the only case in which a figure over the loan book applies)."""
    observations = await observe(conn, period)
    groups = (
        await _groups(conn, observations, grouping, scope, whole_book=whole_book, goals=goals)
        if grouping is not None
        else []
    )
    totals = await _groups(conn, observations, None, scope, whole_book=whole_book, goals=goals)
    return PortfolioReport(period=period, grouping=grouping, groups=groups, totals=totals)
