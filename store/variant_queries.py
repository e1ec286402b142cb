"""Champion against challenger: each metric of a strategy's two variants over the period, from
per-variant aggregates computed in the database (the statistics are the domain's,
``domain.reports.statistics``).

The cohort is the cases with a snapshot at the period's opening run under the strategy, each in
the variant of that snapshot: what the comparison measures is how the cases each variant held
when the period began fared during it. Per case (one row per case in a subquery): its opening
balance y (Σ balance of its debts' snapshots then), what was recovered x (the payments counted in
the period), whether it was cured (at the closing run no snapshot — closed —, closed, or no debt
past due) and its complaints filed in the period; per variant and currency the database sums n,
Σx, Σy, Σx², Σxy, Σy², the cured and the complaints.

The commission c of a case is Σ rate_a·P_a over the agencies a that earned its payments (P_a:
what they earned on it; the agency that earns a payment is the one its debt's snapshot names on
the payment's local day — the contract's tail after a recall is not counted here). Rates are
applied in Python (SQLite's NUMERIC is a float), so the database sums per (variant, currency)
and pair of agencies (a, b) of a case: Σ P_a (diagonal), Σ P_a·P_b and Σ P_a·x; then
Σc = Σ_a rate_a·ΣP_a (rounded to minor units per agency, as the report's cost is),
Σc² = Σ_ab rate_a·rate_b·ΣP_a·P_b and Σcx = Σ_a rate_a·ΣP_a·x.

Two statements, whatever the number of cases, payments or agencies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Dialect,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from domain.cases.model import CaseStatus
from domain.money import minor_units
from domain.reports.model import VariantComparison
from domain.reports.statistics import RatioSums, VariantCases, compare_variants
from domain.strategies.model import Variant
from store import report_flows, tables
from store.report_basis import Observations, not_reversed_by, period_bounds, time_zone_sql, total
from store.types import Amount

c = tables.cases.c
p = tables.payments.c
cm = tables.complaints.c
ag = tables.agencies.c

# (variant, currency): a variant's cases in one currency.
Stratum = tuple[str, str]


class _AmountProducts(TypeDecorator[Decimal]):
    """A sum of products of two amounts (a second moment, for a variance), read back in major
    units squared. Summed as a float: exact cents do not matter to a variance, and minor units
    squared would overflow SQLite's 64-bit integers on a large cohort."""

    impl = Float
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        # One stored unit of an amount in major units: a cent on SQLite, 1 on PostgreSQL.
        unit = Amount().process_result_value(1, dialect)
        assert unit is not None
        return Decimal(value) * unit * unit


def _products(a: Any, b: Any) -> ColumnElement[Decimal]:
    return type_coerce(func.sum(cast(a, Float) * cast(b, Float)), _AmountProducts())


def _cohort(observations: Observations, strategy: str, scope: ColumnElement[bool]) -> CTE:
    """The strategy's cases at the opening run that ``scope`` lets the caller see: variant,
    currency and portfolio, and the opening balance (Σ of its debts' balances)."""
    opening = tables.debt_snapshots.alias("opening")
    s = opening.c
    return (
        select(
            c.id.label("case_id"),
            func.min(s.variant).label("variant"),
            c.currency,
            c.portfolio,
            func.sum(s.balance).label("balance"),
        )
        .select_from(opening.join(tables.cases, c.id == s.case_id))
        .where(
            s.as_of == observations.opening,
            s.strategy == strategy,
            s.variant.in_([v.value for v in Variant]),
            scope,
        )
        .group_by(c.id, c.currency, c.portfolio)
        .cte("cohort")
    )


def _per_variant(observations: Observations, cohort: CTE) -> Select[Any]:
    """Per variant and currency: cases, cured, complaints and the sums of x (recovered) and y
    (opening balance) and of their squares and products."""
    k = cohort.c
    bounds = period_bounds(observations)
    zone = time_zone_sql(k.portfolio)

    def in_period(at: Any) -> ColumnElement[bool]:
        return and_(bounds.c.zone == zone, at >= bounds.c.starts_at, at < bounds.c.ends_at)

    recovered = (
        select(p.case_id, func.sum(p.amount).label("amount"))
        .select_from(
            tables.payments.join(cohort, k.case_id == p.case_id).join(bounds, in_period(p.paid_at))
        )
        .where(not_reversed_by(tables.payments, bounds.c.ends_at))
        .group_by(p.case_id)
        .subquery("recovered")
    )
    filed = (
        select(cm.case_id, func.count().label("complaints"))
        .select_from(
            tables.complaints.join(cohort, k.case_id == cm.case_id).join(
                bounds, in_period(cm.filed_at)
            )
        )
        .group_by(cm.case_id)
        .subquery("filed")
    )
    last = tables.debt_snapshots.alias("closing")
    closing = (
        select(
            last.c.case_id,
            func.max(last.c.days_past_due).label("dpd"),
            func.max(case((last.c.case_status == CaseStatus.CLOSED.value, 1), else_=0)).label(
                "closed"
            ),
        )
        .where(last.c.as_of == observations.closing, last.c.case_id.in_(select(k.case_id)))
        .group_by(last.c.case_id)
        .subquery("closing")
    )
    cured = case(
        (closing.c.case_id.is_(None), 1),
        (closing.c.closed == 1, 1),
        (closing.c.dpd == 0, 1),
        else_=0,
    )
    x = func.coalesce(recovered.c.amount, 0)
    y = k.balance
    return (
        select(
            k.variant,
            k.currency,
            func.count(),
            func.sum(cured),
            cast(func.coalesce(func.sum(filed.c.complaints), 0), Integer),
            total(x),
            total(y),
            _products(x, x),
            _products(x, y),
            _products(y, y),
        )
        .select_from(
            cohort.outerjoin(recovered, recovered.c.case_id == k.case_id)
            .outerjoin(filed, filed.c.case_id == k.case_id)
            .outerjoin(closing, closing.c.case_id == k.case_id)
        )
        .group_by(k.variant, k.currency)
    )


def _earned(conn: AsyncConnection, observations: Observations, cohort: CTE) -> CTE:
    """Per cohort case and agency: what the agency earns (store.report_flows)."""
    attributed = report_flows.attributed_payments(
        conn, observations, None, c.id.in_(select(cohort.c.case_id))
    )
    a = attributed.c
    return (
        select(a.case_id, a.agency_id, func.sum(a.amount).label("amount"))
        .group_by(a.case_id, a.agency_id)
        .cte("earned")
    )


def _per_agency_pair(conn: AsyncConnection, observations: Observations, cohort: CTE) -> Select[Any]:
    """Per variant, currency and pair of agencies (a, b) that earned on the same case: a's rate,
    Σ P_a, Σ P_a·P_b and Σ P_a·x (x: all that was recovered on the case)."""
    k = cohort.c
    earned = _earned(conn, observations, cohort)
    first, second = earned.alias("first"), earned.alias("second")
    recovered = (
        select(earned.c.case_id, func.sum(earned.c.amount).label("amount"))
        .group_by(earned.c.case_id)
        .subquery("recovered")
    )
    return (
        select(
            k.variant,
            k.currency,
            first.c.agency_id,
            second.c.agency_id,
            ag.commission_rate,
            total(first.c.amount),
            _products(first.c.amount, second.c.amount),
            _products(first.c.amount, recovered.c.amount),
        )
        .select_from(
            first.join(tables.agencies, ag.id == first.c.agency_id)
            .join(
                second,
                and_(second.c.case_id == first.c.case_id, second.c.agency_id.is_not(None)),
            )
            .join(cohort, k.case_id == first.c.case_id)
            .join(recovered, recovered.c.case_id == first.c.case_id)
        )
        .group_by(k.variant, k.currency, first.c.agency_id, second.c.agency_id, ag.commission_rate)
    )


@dataclass
class _Commission:
    """One stratum's commission sums, filled from the agency pairs: Σc, Σc², Σcx."""

    total: Decimal = Decimal(0)
    squares: Decimal = Decimal(0)
    with_recovered: Decimal = Decimal(0)


def _commissions(rows: list[Any]) -> dict[Stratum, _Commission]:
    rates = {a: rate for _, _, a, _, rate, _, _, _ in rows}
    sums: dict[Stratum, _Commission] = defaultdict(_Commission)
    for variant, currency, a, b, rate, earned, products, with_recovered in rows:
        stratum = sums[variant, currency]
        stratum.squares += rate * rates[b] * products
        if a == b:
            quantum = Decimal(1).scaleb(-minor_units(currency))
            stratum.total += (rate * earned).quantize(quantum, rounding=ROUND_HALF_EVEN)
            stratum.with_recovered += rate * with_recovered
    return sums


async def variant_comparison(
    conn: AsyncConnection,
    observations: Observations,
    strategy: str,
    scope: ColumnElement[bool],
) -> list[VariantComparison]:
    """Returns recovery rate, cure rate, cost of collection and complaints per 1,000 cases of the
    strategy's champion and challenger over the period, with the difference and its 95%
    confidence interval, over the cases ``scope`` lets the caller see. Empty when the period has
    no opening run or either variant has no case in the cohort (an unknown strategy too)."""
    if observations.opening is None:
        return []
    cohort = _cohort(observations, strategy, scope)
    per_variant = (await conn.execute(_per_variant(observations, cohort))).all()
    commissions = _commissions(
        (await conn.execute(_per_agency_pair(conn, observations, cohort))).all()
    )
    variants: dict[str, dict[str, VariantCases]] = {v.value: {} for v in Variant}
    for variant, currency, cases, cured, complaints, x, y, xx, xy, yy in per_variant:
        commission = commissions.get((variant, currency), _Commission())
        variants[variant][currency] = VariantCases(
            cases=cases,
            cured=cured,
            complaints=complaints,
            recovery=RatioSums(cases, x, y, xx, xy, yy),
            cost=RatioSums(
                cases,
                commission.total,
                x,
                commission.squares,
                commission.with_recovered,
                xx,
            ),
        )
    return compare_variants(variants[Variant.CHAMPION.value], variants[Variant.CHALLENGER.value])
