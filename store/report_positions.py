"""The report's positions, read from the daily snapshots: aging by bucket and the overdue rates at
the period's closing, and the monthly roll rates with the cure and loss rates they give (see
``store.report_basis`` for the runs a period reads and the keys of its groups).

Each figure is one statement whatever the number of cases, groups or months. Rows are keyed in a
subquery and grouped by that column outside it: a key may be a scalar subquery or hold bound
values, which PostgreSQL cannot match between a SELECT and its GROUP BY. The roll rates join every
month's start and end snapshots through a table of the months, and total the matrix with window
functions; the loss rate counts each delinquent debt once, in the first month it was delinquent in
the period."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    FromClause,
    Subquery,
    and_,
    case,
    column,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
    values,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.cases.model import CaseStage, CaseStatus
from domain.debts.model import DebtStatus
from domain.lifecycle.table import CloseReason
from domain.money import Money
from domain.reports.goals import Goals
from domain.reports.model import AgingBucket, Grouping, Ratio, RollRate, ThresholdRatio
from store import tables
from store.dialect import local_day
from store.report_basis import (
    GroupId,
    Observations,
    delinquent,
    group_key,
    in_collection,
    loan_book_principal,
    on_runs,
    paid_per_debt,
    time_zone_sql,
    total,
)
from store.types import Amount

# The overdue rates' thresholds (days past due at least).
THRESHOLDS = (1, 30, 90)

# Where a delinquent debt can end a month besides a bucket, in the order a matrix lists them.
CURED = "CURED"
PAID = "PAID"
WRITTEN_OFF = "WRITTEN_OFF"
OUTCOMES = (CURED, PAID, WRITTEN_OFF)

_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Rolls:
    roll_rates: list[RollRate]
    cure_rate: Ratio
    loss_rate: Ratio


# ---- aging --------------------------------------------------------------------------------------


async def aging(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
) -> dict[GroupId, list[AgingBucket]]:
    """Returns the cases in collection at the closing run per bucket (a case is as late as its
    latest debt of the group) with their outstanding balance; {} without a closing run."""
    if observations.closing is None:
        return {}
    s = tables.debt_snapshots.alias("s")
    rows = (
        select(group_key(grouping, s).label(), s.c.currency, s.c.case_id, s.c.bucket, s.c.balance)
        .join_from(s, tables.cases, tables.cases.c.id == s.c.case_id)
        .where(s.c.as_of == observations.closing, in_collection(s), scope)
        .subquery("aged_rows")
    )
    # Buckets M0..M7 sort as strings in the order of days past due.
    per_case = (
        select(
            rows.c.key,
            rows.c.currency,
            func.max(rows.c.bucket).label("bucket"),
            total(rows.c.balance).label("outstanding"),
        )
        .group_by(rows.c.key, rows.c.currency, rows.c.case_id)
        .subquery("aged_cases")
    )
    stmt = (
        select(
            per_case.c.key,
            per_case.c.currency,
            per_case.c.bucket,
            func.count().label("cases"),
            total(per_case.c.outstanding).label("outstanding"),
        )
        .group_by(per_case.c.key, per_case.c.currency, per_case.c.bucket)
        .order_by(per_case.c.bucket)
    )
    found: dict[GroupId, list[AgingBucket]] = defaultdict(list)
    for row in await conn.execute(stmt):
        found[(row.key, row.currency)].append(
            AgingBucket(row.bucket, int(row.cases), Money(row.outstanding, row.currency))
        )
    return dict(found)


# ---- overdue rates ------------------------------------------------------------------------------


async def overdue_rates(
    conn: AsyncConnection, observations: Observations, grouping: Grouping | None, goals: Goals
) -> dict[GroupId, list[ThresholdRatio]]:
    """Returns, per key of the loan book (totals, PORTFOLIO or PRODUCT: the only groupings it
    has), the principal in collection at the closing run that is at least 1, 30 and 90 days past
    due over the loan book's principal, each of its (portfolio, product, currency) on its latest
    date up to the period's end (the whole book: no scope). Like is compared with like: only
    loans of a (portfolio, product, currency) the loan book has count in the numerators. A key
    without a loan-book row has no entry; {} without a closing run."""
    if observations.closing is None:
        return {}
    end = observations.period.end
    overdue = _overdue_principal(observations.closing, end, grouping)
    book = loan_book_principal(end, grouping)
    stmt = select(
        book.c.key,
        book.c.currency,
        book.c.principal,
        *(overdue.c[f"dpd_{t}"] for t in THRESHOLDS),
    ).outerjoin(
        overdue,
        and_(overdue.c.key.is_not_distinct_from(book.c.key), overdue.c.currency == book.c.currency),
    )
    found: dict[GroupId, list[ThresholdRatio]] = {}
    for row in await conn.execute(stmt):
        found[(row.key, row.currency)] = [
            ThresholdRatio(
                t,
                Ratio(
                    row._mapping[f"dpd_{t}"] or _ZERO,
                    row.principal,
                    goals.overdue_rate if t == 1 else None,
                ),
            )
            for t in THRESHOLDS
        ]
    return found


def _overdue_principal(closing: date, end: date, grouping: Grouping | None) -> Subquery:
    """Principal in collection and past due at the closing run per key, one column per
    threshold (``dpd_1``, ``dpd_30``, ``dpd_90``; NULL where none is that late), of the loans
    whose portfolio, product and currency the loan book has on or before ``end``."""
    s = tables.debt_snapshots.alias("s")
    lb = tables.loan_book.c
    on_the_book = exists().where(
        lb.portfolio == s.c.portfolio,
        lb.product_type == s.c.product_type,
        lb.currency == s.c.currency,
        lb.date <= end,
    )
    rows = (
        select(group_key(grouping, s).label(), s.c.currency, s.c.principal, s.c.days_past_due)
        .where(s.c.as_of == closing, delinquent(s), on_the_book)
        .subquery("overdue_rows")
    )
    return (
        select(
            rows.c.key,
            rows.c.currency,
            *(
                total(case((rows.c.days_past_due >= t, rows.c.principal))).label(f"dpd_{t}")
                for t in THRESHOLDS
            ),
        )
        .group_by(rows.c.key, rows.c.currency)
        .subquery("overdue")
    )


# ---- roll rates ---------------------------------------------------------------------------------


async def rolls(
    conn: AsyncConnection,
    observations: Observations,
    grouping: Grouping | None,
    scope: ColumnElement[bool],
    goals: Goals,
) -> dict[GroupId, Rolls]:
    """Returns the roll-rate matrix of the period's months pooled (debts delinquent at a month's
    start, by where they were at its end), the cure rate and the loss rate net of recoveries,
    per group of the debts at the months' starts; a group with no delinquent debt has no entry.

    The matrix and the cure rate count a debt once for each month it started delinquent; the
    loss rate counts each debt once, with its balance and key in the first month it was
    delinquent in the period, so that a debt late for three months does not weigh three times
    against the one written off (a group whose debts all began the period under another key has
    a loss rate of 0 over 0)."""
    if not observations.months:
        return {}
    steps = _steps(observations, grouping, scope)
    matrix = _matrix(steps)
    losses = _losses(observations, steps)
    stmt = select(
        matrix, losses.c.population_balance, losses.c.written_off, losses.c.recovered
    ).outerjoin(
        losses,
        and_(
            losses.c.key.is_not_distinct_from(matrix.c.key),
            losses.c.currency == matrix.c.currency,
        ),
    )
    rates: dict[GroupId, list[RollRate]] = defaultdict(list)
    totals: dict[GroupId, Any] = {}
    for row in await conn.execute(stmt):
        gid = (row.key, row.currency)
        rates[gid].append(
            RollRate(
                row.from_bucket,
                row.to_bucket,
                by_count=Ratio(Decimal(int(row.debts)), Decimal(int(row.from_debts))),
                by_balance=Ratio(row.balance, row.from_balance),
            )
        )
        totals[gid] = row  # the group's totals repeat on each of its rows
    return {
        gid: Rolls(
            roll_rates=sorted(rates[gid], key=_matrix_order),
            cure_rate=Ratio(Decimal(int(row.cured)), Decimal(int(row.population))),
            loss_rate=Ratio(
                (row.written_off or _ZERO) - (row.recovered or _ZERO),
                row.population_balance or _ZERO,
                goals.loss_rate,
            ),
        )
        for gid, row in totals.items()
    }


def _matrix_order(rate: RollRate) -> tuple[str, bool, int, str]:
    """From bucket, then to bucket: the buckets first, then CURED, PAID, WRITTEN_OFF."""
    to = rate.to_bucket
    outcome = to in OUTCOMES
    return (rate.from_bucket, outcome, OUTCOMES.index(to) if outcome else 0, to)


def _months(observations: Observations) -> FromClause:
    """The period's months as a table of their start and end run dates."""
    return (
        values(column("starts_on", Date), column("ends_on", Date), name="roll_months")
        .data(list(observations.months))
        .cte("roll_months")
    )


def _steps(
    observations: Observations, grouping: Grouping | None, scope: ColumnElement[bool]
) -> CTE:
    """One row per month and debt delinquent at the month's start: its key, bucket and balance
    then, where it was at the month's end (``to_bucket``), and ``nth``, 1 in the first month the
    debt is delinquent in the period.

    A debt gone from the end run (or there only as its closed case's snapshot, still past due)
    left collection with its case: written off if the case was by
    the end of that day in its zone, else as the case's closure by then says (uncollectible or
    sold: written off; cured: cured; paid in full, settled or no closure: paid). A case closed
    uncollectible or sold is never reopened, so its closure is history that does not change."""
    months = _months(observations)
    s = tables.debt_snapshots.alias("s")
    e = tables.debt_snapshots.alias("e")
    wo = tables.write_offs.c
    c = tables.cases.c
    zone = time_zone_sql(s.c.portfolio)
    # By the end of the month's last day in the debt's zone.
    written_off = exists().where(
        wo.case_id == s.c.case_id, local_day(zone, wo.written_off_at) <= months.c.ends_on
    )
    closed_by_then = local_day(zone, c.closed_at) <= months.c.ends_on
    lost = [CloseReason.UNCOLLECTIBLE.value, CloseReason.DEBT_SOLD.value]
    # Gone from the end run, or in it only as the closure's own snapshot (the daily run takes
    # one of a case closed since the previous run) while still past due: it left collection
    # with its case, and the closure says how.
    gone = or_(
        e.c.debt_id.is_(None),
        and_(e.c.case_status == CaseStatus.CLOSED.value, e.c.days_past_due >= 1),
    )
    destination = case(
        (
            gone,
            case(
                (written_off, literal(WRITTEN_OFF)),
                (and_(closed_by_then, c.close_reason.in_(lost)), literal(WRITTEN_OFF)),
                (
                    and_(closed_by_then, c.close_reason == CloseReason.CURED.value),
                    literal(CURED),
                ),
                else_=literal(PAID),
            ),
        ),
        (
            or_(
                e.c.status == DebtStatus.WRITTEN_OFF.value,
                e.c.case_stage == CaseStage.WRITTEN_OFF.value,
            ),
            literal(WRITTEN_OFF),
        ),
        (
            or_(
                e.c.balance == _ZERO,
                e.c.status.in_([DebtStatus.SETTLED.value, DebtStatus.CLOSED.value]),
            ),
            literal(PAID),
        ),
        (e.c.days_past_due == 0, literal(CURED)),
        else_=e.c.bucket,
    )
    steps = (
        select(
            s.c.debt_id,
            s.c.portfolio,
            group_key(grouping, s).label(),
            s.c.currency,
            s.c.bucket.label("from_bucket"),
            s.c.balance,
            destination.label("to_bucket"),
            months.c.starts_on,
        )
        .select_from(
            months.join(s, s.c.as_of == months.c.starts_on)
            .join(tables.cases, c.id == s.c.case_id)
            .outerjoin(
                e,
                and_(
                    e.c.debt_id == s.c.debt_id,
                    e.c.as_of == months.c.ends_on,
                    on_runs(e, (end for _, end in observations.months)),
                ),
            )
        )
        .where(
            on_runs(s, (start for start, _ in observations.months)),
            delinquent(s),
            scope,
        )
        .subquery("month_steps")
    )
    t = steps.c
    rolled_off = case((t.to_bucket == WRITTEN_OFF, 1), else_=0)
    if len(observations.months) == 1:
        # One month: each debt has one step, the first, and is lost if that step was.
        nth: ColumnElement[int] = literal(1)
        ever_lost: ColumnElement[int] = rolled_off
    else:
        nth = func.row_number().over(partition_by=t.debt_id, order_by=t.starts_on)
        ever_lost = func.max(rolled_off).over(partition_by=t.debt_id)
    return select(
        *(col for col in t if col.key != "starts_on"), nth.label("nth"), ever_lost.label("lost")
    ).cte("roll_steps")


def _matrix(steps: CTE) -> Subquery:
    """The pooled matrix, one row per group and (from, to) pair, with the totals its ratios
    divide by as window sums: per from bucket, and per group (the population and what was cured
    or paid)."""
    st = steps.c
    group = (st.key, st.currency)
    per_from = (*group, st.from_bucket)
    balance = func.sum(st.balance)
    return (
        select(
            st.key,
            st.currency,
            st.from_bucket,
            st.to_bucket,
            func.count().label("debts"),
            type_coerce(balance, Amount()).label("balance"),
            func.sum(func.count()).over(partition_by=per_from).label("from_debts"),
            type_coerce(func.sum(balance).over(partition_by=per_from), Amount()).label(
                "from_balance"
            ),
            func.sum(func.count()).over(partition_by=group).label("population"),
            func.sum(case((st.to_bucket.in_([CURED, PAID]), func.count()), else_=0))
            .over(partition_by=group)
            .label("cured"),
        )
        .group_by(st.key, st.currency, st.from_bucket, st.to_bucket)
        .subquery("roll_matrix")
    )


def _losses(observations: Observations, steps: CTE) -> Subquery:
    """What the loss rate divides, per group, each debt of the population once under its first
    month's key and balance: the population's balance, the balance of the debts that rolled to
    WRITTEN_OFF in any month (``lost``), and the recoveries counted in the period on those
    debts, in the debt's currency (a payment counts when it falls in the period and was not
    reversed by its end, so a closed period never changes)."""
    st = steps.c
    recovered = paid_per_debt(observations, "recovered", tables.payments.c.recovery.is_(True))
    r = recovered.c
    lost = st.lost == 1
    return (
        select(
            st.key,
            st.currency,
            total(st.balance).label("population_balance"),
            total(case((lost, st.balance))).label("written_off"),
            total(case((lost, r.amount))).label("recovered"),
        )
        .select_from(
            steps.outerjoin(recovered, and_(r.debt_id == st.debt_id, r.currency == st.currency))
        )
        .where(st.nth == 1)
        .group_by(st.key, st.currency)
        .subquery("losses")
    )
