"""What every report query stands on, in one place: which daily runs a period reads, the local
day of an instant in its portfolio's time zone (and the run whose snapshot stands for that day),
the key of each grouping, and the settings PostgreSQL plans a report under.

A report reads history, never today's state, so that a report over a closed period is the same
whenever it is asked:
- the *opening* of a period is the close of the day before it: the snapshots of the last daily
  run on or before ``period.opening``; its *closing*, those of the last run on or before
  ``period.end`` (stock figures — aging, overdue rates — read the closing);
- the *months* of a period are the steps of its roll rates: from the opening to the last run on
  or before each month's end (or the period's end), each step starting where the last ended;
- an *event* (a payment, a contact, a promise, a complaint) is in the period when its instant
  falls on one of the period's days in its portfolio's time zone, and it is attributed to the
  group its case was in on that day: the snapshot of the last run on or before that day.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    FromClause,
    String,
    Subquery,
    and_,
    case,
    column,
    func,
    literal,
    or_,
    select,
    type_coerce,
    values,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import KeyedColumnElement

from domain.cases.model import CaseStage, CaseStatus
from domain.debts.model import DebtStatus
from domain.portfolios import DEFAULT_TIME_ZONE, TIME_ZONES, start_of_day_in
from domain.reports.model import Grouping, Period
from store import tables
from store.dialect import local_day
from store.types import Amount

runs = tables.daily_runs.c
P = ParamSpec("P")
T = TypeVar("T")

# A group of a report: its key (None in totals, or for a case with no team, agency or variant)
# and its currency.
GroupId = tuple[str | None, str]


@dataclass(frozen=True, slots=True)
class Observations:
    """The daily runs a period reads: ``opening`` and ``closing`` (None when no run had been made
    by then), the roll-rate ``months`` as (start, end) run dates, and for every day of the period
    the run whose snapshots stand for it (None before the first run)."""

    period: Period
    opening: date | None
    closing: date | None
    months: tuple[tuple[date, date], ...]
    day_runs: tuple[tuple[date, date | None], ...]


def _last_on_or_before(dates: Sequence[date], day: date) -> date | None:
    found = [d for d in dates if d <= day]
    return found[-1] if found else None


def _month_ends(period: Period) -> list[date]:
    """The last day of each calendar month the period touches, the last one cut at its end."""
    ends: list[date] = []
    day = period.start
    while True:
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        end = min(following - timedelta(days=1), period.end)
        ends.append(end)
        if end >= period.end:
            return ends
        day = following


async def observe(conn: AsyncConnection, period: Period) -> Observations:
    """Returns the runs the period reads (one statement: the completed runs up to its end)."""
    stmt = (
        select(runs.as_of)
        .where(runs.finished_at.is_not(None), runs.as_of <= period.end)
        .order_by(runs.as_of)
    )
    dates = list((await conn.execute(stmt)).scalars())
    opening = _last_on_or_before(dates, period.opening)
    closing = _last_on_or_before(dates, period.end)
    months: list[tuple[date, date]] = []
    start = opening
    for end_day in _month_ends(period):
        end = _last_on_or_before(dates, end_day)
        if start is not None and end is not None and end > start:
            months.append((start, end))
            start = end
    day_runs = tuple(
        (period.start + timedelta(days=n), _last_on_or_before(dates, period.start + timedelta(n)))
        for n in range(period.days)
    )
    return Observations(period, opening, closing, tuple(months), day_runs)


# ---- how PostgreSQL plans a report --------------------------------------------------------------

# The session settings a report's statements run under on PostgreSQL, for that transaction only:
# - nested loops off: the statements join on expressions over the portfolio (its time zone, an
#   instant's local day) whose selectivity PostgreSQL cannot estimate; it then expects a handful
#   of rows, picks nested loops over a run's snapshots and is quadratic at a million cases.
#   Per-row lookups that must be index probes (the snapshot of an event's day, a debt's last
#   placement) are scalar subqueries, which the setting leaves alone;
# - enough memory to hash and sort a run's snapshots (about 1.5 million rows at a million cases)
#   without spilling to disk;
# - no JIT compilation: it costs seconds on these wide expressions and gains nothing back.
ANALYTIC_SETTINGS = {"enable_nestloop": "off", "work_mem": "128MB", "jit": "off"}


@asynccontextmanager
async def analytic(conn: AsyncConnection) -> AsyncIterator[None]:
    """Runs a report's statements under ``ANALYTIC_SETTINGS`` on PostgreSQL (nothing elsewhere)
    and puts the previous values back afterwards, so that whatever else the transaction runs
    is planned as usual: one statement before (reading each value, then setting it: a select
    list is evaluated in order), one after — also when the report fails in Python; a database
    error aborts the transaction, whose rollback undoes them anyway."""
    if conn.dialect.name != "postgresql":
        yield
        return
    names = list(ANALYTIC_SETTINGS)
    found = await conn.execute(
        select(
            *(func.current_setting(name) for name in names),
            *(func.set_config(name, value, True) for name, value in ANALYTIC_SETTINGS.items()),
        )
    )
    previous = found.one()[: len(names)]
    restore = select(
        *(func.set_config(n, value, True) for n, value in zip(names, previous, strict=True))
    )
    try:
        yield
    except DBAPIError:
        raise
    except Exception:
        await conn.execute(restore)
        raise
    await conn.execute(restore)


def analysed(
    report: Callable[Concatenate[AsyncConnection, P], Awaitable[T]],
) -> Callable[Concatenate[AsyncConnection, P], Awaitable[T]]:
    """A report's entry point (its first argument the connection) run under ``analytic``."""

    @wraps(report)
    async def run(conn: AsyncConnection, /, *args: P.args, **kwargs: P.kwargs) -> T:
        async with analytic(conn):
            return await report(conn, *args, **kwargs)

    return run


def on_runs(snap: FromClause, days: Iterable[date | None]) -> ColumnElement[bool]:
    """``snap.as_of`` among the run dates ``days`` as constants: a snapshot joined to a table
    of runs (the roll rates' months) also says which runs it reads, so that PostgreSQL reads
    those runs' rows through the ``as_of`` index instead of every run's."""
    found = sorted({day for day in days if day is not None})
    return snap.c.as_of.in_(found) if found else snap.c.as_of == NO_RUN


# ---- time zones and the calendar of local days --------------------------------------------------

# The run of a day before the first run: a date no snapshot has, so that a join finds nothing.
NO_RUN = date(1, 1, 1)


def time_zone_sql(portfolio: Any) -> ColumnElement[str]:
    """``domain.portfolios.time_zone_of`` in SQL: a portfolio's IANA time zone."""
    if not TIME_ZONES:
        return literal(DEFAULT_TIME_ZONE, String)
    return case(
        *((portfolio == name, literal(zone, String)) for name, zone in TIME_ZONES.items()),
        else_=literal(DEFAULT_TIME_ZONE, String),
    )


def _zones() -> list[str]:
    return sorted({*TIME_ZONES.values(), DEFAULT_TIME_ZONE})


def _instants(observations: Observations) -> tuple[datetime, datetime]:
    """The first instant of the period's first day and the first after its last day, over
    every time zone: a constant range every event of the period falls in."""
    period = observations.period
    zones = _zones()
    return (
        min(start_of_day_in(zone, period.start) for zone in zones),
        max(start_of_day_in(zone, period.end + timedelta(days=1)) for zone in zones),
    )


def in_period(observations: Observations, zone: Any, at: Any) -> ColumnElement[bool]:
    """Whether the instant ``at`` falls on one of the period's days where ``zone``
    (``time_zone_sql`` of the case's portfolio) keeps its calendar: its local day in the
    period, behind a constant range of instants that an index on ``at`` can serve."""
    earliest, latest = _instants(observations)
    period = observations.period
    return and_(
        at >= earliest,
        at < latest,
        local_day(zone, at).between(period.start, period.end),
    )


def run_days(observations: Observations) -> FromClause:
    """The period's days as a table (``day``, ``run_as_of``): the run whose snapshots stand for
    each day (NO_RUN before the first run, a day no snapshot has — never NULL, which PostgreSQL
    would type as text in a column of NULLs only). Join an event on ``on_day``; a figure dated
    by a day (a recovery's, its portfolio's business date) joins on that date. A new anonymous
    CTE at each call, so a statement may use it twice."""
    return (
        values(column("day", Date), column("run_as_of", Date), name="report_days")
        .data([(day, NO_RUN if run is None else run) for day, run in observations.day_runs])
        .cte()
    )


def on_day(days: FromClause, zone: Any, at: Any) -> ColumnElement[bool]:
    """Joins ``run_days`` to an event whose instant ``at`` falls on that day in ``zone``."""
    return days.c.day == local_day(zone, at)


# ---- the key of each grouping -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupKey:
    """A grouping's key over a snapshot (``debt_snapshots`` or an alias of it): one expression
    of the snapshot's own columns (TEAM and AGENCY through scalar subqueries)."""

    expression: ColumnElement[Any]

    def label(self) -> KeyedColumnElement[Any]:
        return self.expression.label("key")


def group_key(grouping: Grouping | None, snap: FromClause) -> GroupKey:
    """Returns the key of ``grouping`` for the snapshot ``snap`` (None: the totals, one group per
    currency). TEAM and AGENCY read the team and agency of the snapshot's collector and agency
    through scalar subqueries (NULL: nobody's); VARIANT is ``strategy/variant`` (e.g.
    ``STANDARD/CHALLENGER``)."""
    s = snap.c
    if grouping is None:
        return GroupKey(literal(None, String))
    if grouping is Grouping.PORTFOLIO:
        return GroupKey(s.portfolio)
    if grouping is Grouping.PRODUCT:
        return GroupKey(s.product_type)
    if grouping is Grouping.CLASSIFICATION:
        return GroupKey(s.classification)
    if grouping is Grouping.TEAM:
        st = tables.staff.c
        team = select(st.team).where(st.id == s.assignee_id).scalar_subquery()
        return GroupKey(team)
    if grouping is Grouping.AGENCY:
        ag = tables.agencies.c
        name = select(ag.name).where(ag.id == s.agency_id).scalar_subquery()
        return GroupKey(name)
    # VARIANT
    return GroupKey(
        case(
            (s.strategy.is_(None), literal(None, String)),
            else_=s.strategy + literal("/", String) + s.variant,
        )
    )


def on_run(
    value: Callable[[FromClause], ColumnElement[Any]],
    run: Any,
    *,
    debt_id: Any = None,
    case_id: Any = None,
) -> ColumnElement[Any]:
    """``value(snapshot)`` of a debt's snapshot on the run ``run`` (``debt_id``), or the least of
    it over a case's snapshots on that run (``case_id``); NULL without one. What an event (a
    payment, a complaint, a promise, a recovery) reads of the day it happened on: one index
    probe per event, as a scalar subquery (a join would hash every run's snapshots)."""
    snap = tables.debt_snapshots.alias("on_run")
    if debt_id is not None:
        return (
            select(value(snap))
            .where(snap.c.debt_id == debt_id, snap.c.as_of == run)
            .correlate_except(snap)
            .scalar_subquery()
        )
    return (
        select(func.min(value(snap)))
        .where(snap.c.case_id == case_id, snap.c.as_of == run)
        .correlate_except(snap)
        .scalar_subquery()
    )


def key_on(
    grouping: Grouping | None, run: Any, *, debt_id: Any = None, case_id: Any = None
) -> ColumnElement[Any]:
    """The key of ``grouping`` an event is counted under: its debt's or case's snapshot on the
    run standing for its day (``on_run``); in the totals NULL, with no probe at all."""
    if grouping is None:
        return literal(None, String)
    return on_run(
        lambda snap: group_key(grouping, snap).expression, run, debt_id=debt_id, case_id=case_id
    )


# ---- what every figure counts the same way ------------------------------------------------------


def in_collection(snap: FromClause) -> ColumnElement[bool]:
    """A snapshot row still in collection that day: its case neither closed nor written off, the
    debt not written off (rows taken before the snapshots kept the case's status and stage have
    NULL there)."""
    s = snap.c
    return and_(
        or_(s.case_status.is_(None), s.case_status != CaseStatus.CLOSED.value),
        or_(s.case_stage.is_(None), s.case_stage != CaseStage.WRITTEN_OFF.value),
        s.status != DebtStatus.WRITTEN_OFF.value,
    )


def delinquent(snap: FromClause) -> ColumnElement[bool]:
    """A snapshot row in collection and past due (DPD ≥ 1)."""
    return and_(in_collection(snap), snap.c.days_past_due >= 1)


def not_reversed_by(payment: FromClause, zone: Any, end: date) -> ColumnElement[bool]:
    """A payment that still stood at the end of the day ``end`` in ``zone``: one reversed
    later still counts, so that a closed period's report never changes."""
    p = payment.c
    return or_(p.reversed.is_(False), local_day(zone, p.reversed_at) > end)


def paid_per_debt(observations: Observations, name: str, *where: ColumnElement[bool]) -> Subquery:
    """What was paid in the period per debt and currency (``debt_id``, ``currency``, ``amount``):
    the payments on one of its days in their portfolio's zone and not reversed by its end,
    totalled once before any join; ``where`` narrows them (recoveries only)."""
    p = tables.payments.c
    c = tables.cases.c
    zone = time_zone_sql(c.portfolio)
    return (
        select(p.debt_id, p.currency, total(p.amount).label("amount"))
        .select_from(tables.payments.join(tables.cases, c.id == p.case_id))
        .where(
            in_period(observations, zone, p.paid_at),
            not_reversed_by(tables.payments, zone, observations.period.end),
            *where,
        )
        .group_by(p.debt_id, p.currency)
        .subquery(name)
    )


def total(amount: Any) -> ColumnElement[Decimal]:
    """A sum of amounts read back as Decimal on both databases (SQLite sums minor units)."""
    return type_coerce(func.sum(amount), Amount())


def loan_book_principal(end: date, grouping: Grouping | None) -> Subquery:
    """The loan book's principal per key (``key``, ``currency``, ``principal``): each
    (portfolio, product type, currency) on its own latest date on or before ``end``, so that a
    portfolio whose feed is a day behind the others still counts. Its keys are the snapshot's
    portfolio and product type, the totals one per currency."""
    lb = tables.loan_book
    earlier = tables.loan_book.alias("earlier")
    latest = (
        select(func.max(earlier.c.date))
        .where(
            earlier.c.portfolio == lb.c.portfolio,
            earlier.c.product_type == lb.c.product_type,
            earlier.c.currency == lb.c.currency,
            earlier.c.date <= end,
        )
        .scalar_subquery()
    )
    rows = (
        select(group_key(grouping, lb).label(), lb.c.currency, lb.c.principal)
        .where(lb.c.date == latest)
        .subquery("book_rows")
    )
    return (
        select(rows.c.key, rows.c.currency, total(rows.c.principal).label("principal"))
        .group_by(rows.c.key, rows.c.currency)
        .subquery("book")
    )


def loan_book_applies(grouping: Grouping | None, whole_book: bool) -> bool:
    """Whether a figure over the loan book has a denominator: in the totals and by portfolio or
    product (the loan book's own keys), and only for a caller who sees every case (a scoped
    report's cases are not the loan book's)."""
    return whole_book and grouping in (None, Grouping.PORTFOLIO, Grouping.PRODUCT)
