"""Champion against challenger: each metric of a strategy's two variants over the period, from
per-variant aggregates computed in the database (the statistics are the domain's,
``domain.reports.statistics``).

The cohort is the cases delinquent at the period's opening run under the strategy (at least one
debt in collection and a day or more past due), each in the variant of that snapshot: what the
comparison measures is how the arrears each variant held when the period began fared during it.
A current case, or one closed by a cure and still watched, has nothing to recover or cure and
is left out. Per case (one row per case in a subquery):

- y, its opening balance: Σ balance of its debts delinquent at the opening, and x, what was
  recovered on those debts (the payments counted in the period) — the portfolio report's recovery
  rate, payments on the debts delinquent at the opening over their opening balance;
- r, all that was collected on the case in the period (every debt), and c, the commission the
  agencies earned on it: the cost of collection is Σc / Σr, the report's cost over what was
  collected;
- whether it was cured: at the closing run, when it has no debt written off and is CLOSED (a
  cure's closure, still watched) or no debt is past due; without a snapshot at the closing (a
  closed case no longer watched), unless it was closed as a loss (UNCOLLECTIBLE, DEBT_SOLD) or
  written off by the period's end. The close reason is read from ``cases``: a case closed as a
  loss is never reopened, so today's loss reason is what it was at the closing, and a case absent
  then whose reason is no longer set was reopened since, which only a cure's or a settlement's
  closure can be;
- its complaints filed in the period.

Per variant and currency the database sums n, Σx, Σy, Σx², Σxy, Σy², Σr, Σr², the cured and the
complaints.

The commission c of a case is Σ rate_a·P_a over the agencies a that earned its payments (P_a:
what they earned on it, ``report_flows.attributed_payments``: the agency its debt's snapshot names
on the payment's local day, or after a recall the agency that earns it through the contract's
tail, as in the report's cost of collection). Rates are applied in Python (SQLite's NUMERIC is a
float), so the database sums per (variant, currency) and pair of agencies (a, b) of a case:
Σ P_a (diagonal), Σ P_a·P_b and Σ P_a·r; then Σc = Σ_a rate_a·ΣP_a (rounded to minor units per
agency, as the report's cost is), Σc² = Σ_ab rate_a·rate_b·ΣP_a·P_b and Σcr = Σ_a rate_a·ΣP_a·r.

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
    Subquery,
    and_,
    case,
    cast,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from domain.cases.model import CaseStage, CaseStatus
from domain.debts.model import DebtStatus
from domain.lifecycle.table import CloseReason
from domain.money import minor_units
from domain.reports.model import VariantComparison
from domain.reports.statistics import RatioSums, VariantCases, compare_variants
from domain.strategies.model import Variant
from store import report_flows, tables
from store.dialect import local_day
from store.report_basis import (
    Observations,
    analysed,
    delinquent,
    in_period,
    not_reversed_by,
    time_zone_sql,
    total,
)
from store.types import Amount

c = tables.cases.c
p = tables.payments.c
cm = tables.complaints.c
ag = tables.agencies.c
wo = tables.write_offs.c

# The closures that are losses, not cures: never reopened, so today's reason was the reason then.
LOSSES = (CloseReason.UNCOLLECTIBLE.value, CloseReason.DEBT_SOLD.value)

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


def _delinquent_debts(observations: Observations, strategy: str, scope: ColumnElement[bool]) -> CTE:
    """The debts delinquent at the opening run of the strategy's cases ``scope`` lets the caller
    see, with the variant of their snapshot and their balance then."""
    opening = tables.debt_snapshots.alias("opening")
    s = opening.c
    return (
        select(s.case_id, s.debt_id, s.variant, s.balance)
        .select_from(opening.join(tables.cases, c.id == s.case_id))
        .where(
            s.as_of == observations.opening,
            s.strategy == strategy,
            s.variant.in_([v.value for v in Variant]),
            delinquent(opening),
            scope,
        )
        .cte("delinquent")
    )


def _cohort(debts: CTE) -> CTE:
    """The cohort, a row per case: variant, currency, portfolio, close reason (read as the module
    docstring says) and opening balance y (Σ of its delinquent debts' balances)."""
    d = debts.c
    return (
        select(
            c.id.label("case_id"),
            func.min(d.variant).label("variant"),
            c.currency,
            c.portfolio,
            c.close_reason,
            func.sum(d.balance).label("balance"),
        )
        .select_from(debts.join(tables.cases, c.id == d.case_id))
        .group_by(c.id, c.currency, c.portfolio, c.close_reason)
        .cte("cohort")
    )


def _cured(observations: Observations, cohort: CTE) -> Subquery:
    """Per cohort case: ``cured``, 1 when it was cured by the closing run (module docstring)."""
    k = cohort.c
    last = tables.debt_snapshots.alias("closing")
    s = last.c
    lost_row = or_(
        s.status == DebtStatus.WRITTEN_OFF.value, s.case_stage == CaseStage.WRITTEN_OFF.value
    )
    closing = (
        select(
            s.case_id,
            func.max(s.days_past_due).label("dpd"),
            func.max(case((s.case_status == CaseStatus.CLOSED.value, 1), else_=0)).label("closed"),
            func.max(case((lost_row, 1), else_=0)).label("written_off"),
        )
        .where(s.as_of == observations.closing, s.case_id.in_(select(k.case_id)))
        .group_by(s.case_id)
        .subquery("closing")
    )
    # Written off by the end of the period in the case's time zone.
    written_off = (
        select(wo.case_id)
        .select_from(tables.write_offs.join(cohort, k.case_id == wo.case_id))
        .where(local_day(time_zone_sql(k.portfolio), wo.written_off_at) <= observations.period.end)
        .distinct()
        .subquery("written_off")
    )
    absent = closing.c.case_id.is_(None)
    lost = or_(k.close_reason.in_(LOSSES), written_off.c.case_id.is_not(None))
    cured = case(
        (and_(absent, lost), 0),
        (absent, 1),
        (closing.c.written_off == 1, 0),
        (closing.c.closed == 1, 1),
        (closing.c.dpd == 0, 1),
        else_=0,
    )
    return (
        select(k.case_id, cured.label("cured"))
        .select_from(
            cohort.outerjoin(closing, closing.c.case_id == k.case_id).outerjoin(
                written_off, written_off.c.case_id == k.case_id
            )
        )
        .subquery("cured")
    )


def _per_variant(observations: Observations, debts: CTE, cohort: CTE) -> Select[Any]:
    """Per variant and currency: cases, cured, complaints, the sums of x (recovered on the
    delinquent debts) and y (their opening balance) and of their squares and products, and of r
    (collected on the case) and its square."""
    k = cohort.c
    zone = time_zone_sql(k.portfolio)

    # One row per debt at the opening: joining the delinquent ones duplicates no payment.
    on_delinquent = case((debts.c.debt_id.is_not(None), p.amount), else_=0)
    paid = (
        select(
            p.case_id,
            func.sum(on_delinquent).label("recovered"),
            func.sum(p.amount).label("collected"),
        )
        .select_from(
            tables.payments.join(cohort, k.case_id == p.case_id).outerjoin(
                debts, debts.c.debt_id == p.debt_id
            )
        )
        .where(
            in_period(observations, zone, p.paid_at),
            not_reversed_by(tables.payments, zone, observations.period.end),
        )
        .group_by(p.case_id)
        .subquery("paid")
    )
    filed = (
        select(cm.case_id, func.count().label("complaints"))
        .select_from(tables.complaints.join(cohort, k.case_id == cm.case_id))
        .where(in_period(observations, zone, cm.filed_at))
        .group_by(cm.case_id)
        .subquery("filed")
    )
    cured = _cured(observations, cohort)
    x = func.coalesce(paid.c.recovered, 0)
    y = k.balance
    r = func.coalesce(paid.c.collected, 0)
    return (
        select(
            k.variant,
            k.currency,
            func.count(),
            func.sum(cured.c.cured),
            cast(func.coalesce(func.sum(filed.c.complaints), 0), Integer),
            total(x),
            total(y),
            _products(x, x),
            _products(x, y),
            _products(y, y),
            total(r),
            _products(r, r),
        )
        .select_from(
            cohort.join(cured, cured.c.case_id == k.case_id)
            .outerjoin(paid, paid.c.case_id == k.case_id)
            .outerjoin(filed, filed.c.case_id == k.case_id)
        )
        .group_by(k.variant, k.currency)
    )


def _earned(conn: AsyncConnection, observations: Observations, cohort: CTE) -> CTE:
    """Per cohort case and agency: what the agency earns, placed or through the contract's tail
    (``report_flows.attributed_payments``, the report's attribution); agency NULL: nobody."""
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
    Σ P_a, Σ P_a·P_b and Σ P_a·r (r: all that was collected on the case, earned or not)."""
    k = cohort.c
    earned = _earned(conn, observations, cohort)
    first, second = earned.alias("first"), earned.alias("second")
    collected = (
        select(earned.c.case_id, func.sum(earned.c.amount).label("amount"))
        .group_by(earned.c.case_id)
        .subquery("collected")
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
            _products(first.c.amount, collected.c.amount),
        )
        .select_from(
            first.join(tables.agencies, ag.id == first.c.agency_id)
            .join(
                second,
                and_(second.c.case_id == first.c.case_id, second.c.agency_id.is_not(None)),
            )
            .join(cohort, k.case_id == first.c.case_id)
            .join(collected, collected.c.case_id == first.c.case_id)
        )
        .group_by(k.variant, k.currency, first.c.agency_id, second.c.agency_id, ag.commission_rate)
    )


@dataclass
class _Commission:
    """One stratum's commission sums, filled from the agency pairs: Σc, Σc², Σcr."""

    total: Decimal = Decimal(0)
    squares: Decimal = Decimal(0)
    with_collected: Decimal = Decimal(0)


def _commissions(rows: list[Any]) -> dict[Stratum, _Commission]:
    rates = {a: rate for _, _, a, _, rate, _, _, _ in rows}
    sums: dict[Stratum, _Commission] = defaultdict(_Commission)
    for variant, currency, a, b, rate, earned, products, with_collected in rows:
        stratum = sums[variant, currency]
        stratum.squares += rate * rates[b] * products
        if a == b:
            quantum = Decimal(1).scaleb(-minor_units(currency))
            stratum.total += (rate * earned).quantize(quantum, rounding=ROUND_HALF_EVEN)
            stratum.with_collected += rate * with_collected
    return sums


@analysed
async def variant_comparison(
    conn: AsyncConnection,
    observations: Observations,
    strategy: str,
    scope: ColumnElement[bool],
) -> list[VariantComparison]:
    """Returns recovery rate, cure rate, cost of collection and complaints per 1,000 cases of the
    strategy's champion and challenger over the period, with the difference and its 95%
    confidence interval, over the cohort's cases ``scope`` lets the caller see. Empty when the
    period has no opening run or either variant has no case in the cohort (an unknown strategy
    too)."""
    if observations.opening is None:
        return []
    debts = _delinquent_debts(observations, strategy, scope)
    cohort = _cohort(debts)
    per_variant = (await conn.execute(_per_variant(observations, debts, cohort))).all()
    commissions = _commissions(
        (await conn.execute(_per_agency_pair(conn, observations, cohort))).all()
    )
    variants: dict[str, dict[str, VariantCases]] = {v.value: {} for v in Variant}
    for variant, currency, cases, cured, complaints, x, y, xx, xy, yy, r, rr in per_variant:
        commission = commissions.get((variant, currency), _Commission())
        variants[variant][currency] = VariantCases(
            cases=cases,
            cured=cured,
            complaints=complaints,
            recovery=RatioSums(cases, x, y, xx, xy, yy),
            cost=RatioSums(
                cases,
                commission.total,
                r,
                commission.squares,
                commission.with_collected,
                rr,
            ),
        )
    return compare_variants(variants[Variant.CHAMPION.value], variants[Variant.CHALLENGER.value])
