"""The report's money flows: what was recovered in the period, the recovery rate, the cost of
collection (agency commission with the contract's tail, and the cost records of the feed) over
the amount collected and, annualised, over the loan book; and each agency's commission
statement.

Which agency earns a payment is decided once, in ``attributed_payments``, for the report and
the statements alike: the agency of its debt's snapshot on the payment's local day, or — the
contract's tail — when the debt had been recalled by then, the agency of its last placement if
the payment's day is at most ``agencies.tail_days`` days after the recall (the first run after
that placement's last snapshot: the first day the debt was seen without the agency). Amounts
are summed in SQL per agency and multiplied by the commission rate in Python (SQLite's NUMERIC
is a float), each product rounded half to even to the currency's minor units.

A fixed number of statements whatever the number of cases, payments, agencies or days: at most
four for the money flows (payments, opening balances with what was paid on them, cost records,
loan book), one for the statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.money import Money, minor_units
from domain.reports.goals import Goals
from domain.reports.model import CommissionStatement, Grouping, Period, Ratio
from store import tables
from store.dialect import days_between
from store.report_basis import (
    GroupId,
    Observations,
    delinquent,
    group_key,
    in_period,
    key_on,
    loan_book_principal,
    not_reversed_by,
    on_day,
    paid_per_debt,
    run_days,
    time_zone_sql,
    total,
)

c = tables.cases.c
p = tables.payments.c
ag = tables.agencies.c
cr = tables.cost_records.c

# The days a year's cost is counted over when a period's cost is annualised.
DAYS_PER_YEAR = 365
# Annualised cost is an amount: two places, like every money numerator of a ratio.
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class MoneyFlows:
    recovered: Money
    recovery_rate: Ratio
    cost_of_collection: Ratio
    annualised_cost_vs_loan_book: Ratio | None


def _commission(amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """An agency's commission on an amount, rounded half to even to the currency's minor units."""
    quantum = Decimal(1).scaleb(-minor_units(currency))
    return (amount * rate).quantize(quantum, rounding=ROUND_HALF_EVEN)


# ---- which agency earns each payment: the one home of the commission attribution ----------------


def attributed_payments(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
) -> FromClause:
    """The payments counted in the period on the cases ``scope`` lets the caller see, one row
    each: ``key`` (the grouping's key over its debt's snapshot on the payment's local day, NULL
    without one), ``currency`` and ``amount`` (the payment's), ``agency_id`` (the agency that
    earns commission on it, NULL: none) and ``tail`` (earned through the contract's tail after a
    recall rather than while placed). The tail is counted from the recall, the first completed
    run after the debt's last snapshot with the agency: a payment on the recall's day plus
    ``tail_days`` still earns, one a day later does not.

    A payment counts when its instant falls on one of the period's days in its portfolio's time
    zone and it was not reversed by the period's end (a reversal after it leaves the closed
    period as it was reported)."""
    zone = time_zone_sql(c.portfolio)
    days = run_days(observations)
    placed = tables.debt_snapshots.alias("placed")
    # The debt's last snapshot with an agency, up to the run standing for the payment's day:
    # that run's own when the debt is placed then, an earlier one after a recall (a probe of
    # the partial index of placed snapshots per payment).
    last_placed = (
        select(func.max(placed.c.as_of))
        .where(
            placed.c.debt_id == p.debt_id,
            placed.c.agency_id.is_not(None),
            placed.c.as_of <= days.c.run_as_of,
        )
        .correlate_except(placed)
        .scalar_subquery()
    )
    # Materialised: each payment's probes run once, not once per reference below.
    counted = (
        select(
            key_on(grouping, days.c.run_as_of, debt_id=p.debt_id).label("key"),
            p.case_id,
            p.currency,
            p.amount,
            p.debt_id,
            days.c.day,
            days.c.run_as_of,
            last_placed.label("placed_on"),
        )
        .select_from(
            tables.payments.join(tables.cases, c.id == p.case_id).join(
                days, on_day(days, zone, p.paid_at)
            )
        )
        .where(
            scope,
            in_period(observations, zone, p.paid_at),
            not_reversed_by(tables.payments, zone, observations.period.end),
        )
        .cte("counted")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    k = counted.c
    placement = tables.debt_snapshots.alias("placement")
    placed_with = (
        select(placement.c.agency_id)
        .where(placement.c.debt_id == k.debt_id, placement.c.as_of == k.placed_on)
        .correlate_except(placement)
        .scalar_subquery()
    )
    runs = tables.daily_runs.c
    recalled_on = (
        select(func.min(runs.as_of))
        .where(runs.finished_at.is_not(None), runs.as_of > k.placed_on)
        .correlate_except(tables.daily_runs)
        .scalar_subquery()
    )
    placer = tables.agencies.alias("placer")
    earns = or_(
        k.placed_on == k.run_as_of,
        days_between(conn, k.day, recalled_on) <= placer.c.tail_days,
    )
    return (
        select(
            k.key,
            k.case_id,
            k.currency,
            k.amount,
            case((earns, placer.c.id)).label("agency_id"),
            case((k.placed_on < k.run_as_of, 1), else_=0).label("tail"),
        )
        .select_from(counted.outerjoin(placer, placer.c.id == placed_with))
        .subquery("attributed")
    )


# ---- the money flows of a report ---------------------------------------------------------------


def _recovered_by_agency(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
) -> Select[Any]:
    """Per key, currency and earning agency (NULL: none): the amount counted and the agency's
    commission rate."""
    attributed = attributed_payments(conn, observations, grouping, scope)
    a = attributed.c
    return (
        select(a.key, a.currency, ag.commission_rate, total(a.amount))
        .select_from(attributed.outerjoin(tables.agencies, ag.id == a.agency_id))
        .group_by(a.key, a.currency, a.agency_id, ag.commission_rate)
    )


def _delinquent_at_opening(
    observations: Observations, grouping: Grouping | None, scope: ColumnElement[bool]
) -> Select[Any]:
    """Per key and currency of the opening run's rows: the balance of the debts delinquent (in
    collection, at least a day past due) at the opening run, and what was paid on those debts in
    the period (payments counted as in ``attributed_payments``, in the debt's currency) — the
    recovery rate, which so never counts a payment on a debt that was not in arrears then."""
    snap = tables.debt_snapshots.alias("snapshot")
    s = snap.c
    rows = (
        select(group_key(grouping, snap).label(), s.debt_id, s.currency, s.balance)
        .select_from(snap.join(tables.cases, c.id == s.case_id))
        .where(s.as_of == observations.opening, delinquent(snap), scope)
        .subquery("delinquent")
    )
    d = rows.c
    paid = paid_per_debt(observations, "paid")
    return (
        select(d.key, d.currency, total(d.balance), total(paid.c.amount))
        .select_from(
            rows.outerjoin(paid, and_(paid.c.debt_id == d.debt_id, paid.c.currency == d.currency))
        )
        .group_by(d.key, d.currency)
    )


def _by_portfolio(grouping: Grouping | None, portfolio: Any) -> tuple[Any, list[Any]]:
    """The key of a whole-book row kept per portfolio (cost records, the loan book) and what to
    group it by: the portfolio when grouped by portfolio, nothing in the totals."""
    if grouping is Grouping.PORTFOLIO:
        return portfolio, [portfolio]
    return literal(None, String), []


def _cost_records(period: Period, grouping: Grouping | None) -> Select[Any]:
    """Per key and currency: the cost records of the feed dated in the period."""
    key, by = _by_portfolio(grouping, cr.portfolio)
    return (
        select(key.label("key"), cr.currency, total(cr.amount))
        .where(cr.date >= period.start, cr.date <= period.end)
        .group_by(*by, cr.currency)
    )


def _loan_book(period: Period, grouping: Grouping | None) -> Select[Any]:
    """Per key and currency: the loan book's principal on its latest date by the period's end."""
    book = loan_book_principal(period.end, grouping)
    return select(book.c.key, book.c.currency, book.c.principal)


async def money_flows(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    goals: Goals,
    *,
    loan_book: bool,
) -> dict[GroupId, MoneyFlows]:
    """Returns the money flows of every group with a payment counted, a delinquent balance at
    the opening, or (where they apply) cost records or a loan book.

    ``recovered`` is every payment counted in the period, under the key of its debt's snapshot
    on the payment's day. The recovery rate compares like with like: what was paid in the
    period on the debts delinquent at the opening over their balance then, both under the key
    of the opening row (a payment on a debt that was current, or not in collection, is
    recovered but not in the rate).

    The cost of collection is the commission the agencies earned on the group's payments plus,
    where they are attributable, the feed's cost records: those are kept per portfolio for the
    whole book, so they count only where the loan book applies (a caller who sees every case)
    and in the totals or by portfolio; elsewhere the cost is the commission alone, and the
    annualised cost over the loan book is absent (None)."""
    period = observations.period
    whole_book = loan_book and grouping in (None, Grouping.PORTFOLIO)
    recovered: dict[GroupId, Decimal] = {}
    cost: dict[GroupId, Decimal] = {}
    rows = await conn.execute(_recovered_by_agency(conn, observations, grouping, scope))
    for key, currency, rate, amount in rows.all():
        gid = (key, currency)
        recovered[gid] = recovered.get(gid, ZERO) + amount
        earned = _commission(amount, rate, currency) if rate is not None else ZERO
        cost[gid] = cost.get(gid, ZERO) + earned
    opening: dict[GroupId, Decimal] = {}
    paid: dict[GroupId, Decimal] = {}
    if observations.opening is not None:
        rows = await conn.execute(_delinquent_at_opening(observations, grouping, scope))
        for key, currency, balance, paid_on_them in rows.all():
            opening[key, currency] = balance
            paid[key, currency] = paid_on_them if paid_on_them is not None else ZERO
    book: dict[GroupId, Decimal] = {}
    if whole_book:
        for key, currency, amount in (await conn.execute(_cost_records(period, grouping))).all():
            cost[key, currency] = cost.get((key, currency), ZERO) + amount
        rows = await conn.execute(_loan_book(period, grouping))
        book = {(key, currency): amount for key, currency, amount in rows.all()}
    flows: dict[GroupId, MoneyFlows] = {}
    for gid in {*recovered, *opening, *cost, *book}:
        collected = recovered.get(gid, ZERO)
        spent = cost.get(gid, ZERO)
        annualised = None
        if gid in book:
            yearly = (spent * DAYS_PER_YEAR / period.days).quantize(CENT, rounding=ROUND_HALF_EVEN)
            annualised = Ratio(yearly, book[gid], goals.cost_vs_loan_book)
        flows[gid] = MoneyFlows(
            recovered=Money(collected, gid[1]),
            recovery_rate=Ratio(paid.get(gid, ZERO), opening.get(gid, ZERO)),
            cost_of_collection=Ratio(spent, collected),
            annualised_cost_vs_loan_book=annualised,
        )
    return flows


# ---- the agencies' commission statements -------------------------------------------------------


async def commission_statements(
    conn: AsyncConnection,
    observations: Observations,
    scope: ColumnElement[bool],
    agency_ids: Sequence[int] | None = None,
) -> dict[tuple[int, str], CommissionStatement]:
    """Returns, per agency (every one, or those of ``agency_ids``) and currency in which it earned
    a payment of the period on the cases ``scope`` lets the caller see, its commission statement:
    the contract's rate and tail, what was collected while placed and through the tail, the
    commission on both and the number of payments (one statement)."""
    attributed = attributed_payments(conn, observations, None, scope)
    a = attributed.c
    stmt = (
        select(
            a.agency_id,
            a.currency,
            ag.commission_rate,
            ag.tail_days,
            total(case((a.tail == 0, a.amount))),
            total(case((a.tail == 1, a.amount))),
            func.count(),
        )
        .select_from(attributed.join(tables.agencies, ag.id == a.agency_id))
        .group_by(a.agency_id, a.currency, ag.commission_rate, ag.tail_days)
    )
    if agency_ids is not None:
        stmt = stmt.where(a.agency_id.in_(agency_ids))
    statements: dict[tuple[int, str], CommissionStatement] = {}
    for agency_id, currency, rate, tail_days, placed, tail, payments in (
        await conn.execute(stmt)
    ).all():
        collected = placed if placed is not None else ZERO
        tail_collected = tail if tail is not None else ZERO
        earned = _commission(collected + tail_collected, rate, currency)
        statements[agency_id, currency] = CommissionStatement(
            rate=rate,
            tail_days=tail_days,
            collected=Money(collected, currency),
            tail_collected=Money(tail_collected, currency),
            commission=Money(earned, currency),
            payments=payments,
        )
    return statements
