"""What every report query stands on, in one place: which daily runs a period reads, the calendar
that turns an instant into a portfolio's local day (and the snapshot of that day), and the key of
each grouping.

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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

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
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import KeyedColumnElement

from domain.cases.model import CaseStage, CaseStatus
from domain.debts.model import DebtStatus
from domain.portfolios import DEFAULT_TIME_ZONE, TIME_ZONES, start_of_day_in
from domain.reports.model import Grouping, Period
from store import tables
from store.types import Amount, UTCDateTime

runs = tables.daily_runs.c

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


def calendar(observations: Observations) -> FromClause:
    """The period's days as a table: one row per time zone and day with the instants it starts
    (``starts_at``, included) and ends (``ends_at``, excluded) and the run whose snapshots stand
    for it (``run_as_of``; before the first run NO_RUN, a day no snapshot has — never NULL, which
    PostgreSQL would type as text in a column of NULLs only). Join an event on
    ``time_zone_sql(portfolio) = zone AND at >= starts_at AND at < ends_at``. Each call is a new
    (anonymous) CTE, so a statement may use it twice."""
    rows: list[tuple[str, date, datetime, datetime, date]] = []
    for zone in _zones():
        for day, run in observations.day_runs:
            start = start_of_day_in(zone, day)
            end = start_of_day_in(zone, day + timedelta(days=1))
            rows.append((zone, day, start, end, NO_RUN if run is None else run))
    return (
        values(
            column("zone", String),
            column("day", Date),
            column("starts_at", UTCDateTime()),
            column("ends_at", UTCDateTime()),
            column("run_as_of", Date),
            name="report_calendar",
        )
        .data(rows)
        .cte()
    )


def falls_in(days: FromClause, zone: Any, at: Any) -> ColumnElement[bool]:
    """Whether the instant ``at`` falls in ``days`` (a ``calendar`` or ``period_bounds`` table)
    where ``zone`` (``time_zone_sql`` of the case's portfolio) keeps its calendar: on that
    calendar's day, or in the period."""
    return and_(days.c.zone == zone, at >= days.c.starts_at, at < days.c.ends_at)


def period_bounds(observations: Observations) -> FromClause:
    """The period as a table of instants per time zone (``zone``, ``starts_at``, ``ends_at``):
    for figures that only ask whether an instant falls in the period."""
    period = observations.period
    rows = [
        (
            zone,
            start_of_day_in(zone, period.start),
            start_of_day_in(zone, period.end + timedelta(days=1)),
        )
        for zone in _zones()
    ]
    return (
        values(
            column("zone", String),
            column("starts_at", UTCDateTime()),
            column("ends_at", UTCDateTime()),
            name="report_period",
        )
        .data(rows)
        .cte()
    )


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


def not_reversed_by(payment: FromClause, ends_at: Any) -> ColumnElement[bool]:
    """A payment that still stood at ``ends_at`` (the end of the period in its portfolio's zone):
    one reversed later still counts, so that a closed period's report never changes."""
    p = payment.c
    return or_(p.reversed.is_(False), p.reversed_at >= ends_at)


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
