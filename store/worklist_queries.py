"""The worklist in SQL: a caller's own OPEN cases in priority order, keyset-paginated.

The priority (``domain.worklist.priority``) is computed per case from the same facts the
reasons are written from: a pending callback due by the end of the portfolio's local day (one
that no completed voice contact with the borrower at or after its time, and no call in from the
borrower after it was asked for, has answered), an OPEN promise due on its local date, a broken
promise; then days past due, outstanding and id.
The rank is computed once, in SQL; the page selects it, and a cursor carries it. A page costs
the same statements whatever its size: the page here, then (``api.worklist``) the borrowers and
their contact points through the request's loaders and their recent contacts through
``store.contacts_queries.histories`` (and the count, when asked). Whether the borrower may be
called now is then the conduct decision ``contactAllowance`` makes, per item, in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from domain.arrangements.promises import PromiseStatus
from domain.cases.model import Case, CaseStatus
from domain.conduct.engine import local_instant
from domain.contacts.model import VOICE_CHANNELS, ContactDirection, ContactParty
from domain.money import Money
from domain.portfolios import DEFAULT_TIME_ZONE, TIME_ZONES, local_date
from domain.worklist.priority import OTHER, RANKS, Reason, WorkFacts
from store import keyset, tables
from store.keys import is_amount, is_int
from store.keyset import InvalidCursor
from store.types import UTCDateTime

c = tables.cases.c
LISTING = "worklist"


@dataclass(frozen=True)
class WorklistOwner:
    """Whose cases: assigned to a staff member, or placed with an agency (either or both)."""

    assignee_id: int | None = None
    agency_id: int | None = None

    def clause(self) -> ColumnElement[bool]:
        clauses = []
        if self.assignee_id is not None:
            clauses.append(c.assignee_id == self.assignee_id)
        if self.agency_id is not None:
            clauses.append(c.agency_id == self.agency_id)
        if not clauses:
            return false()
        return clauses[0] if len(clauses) == 1 else or_(*clauses)


@dataclass(frozen=True)
class WorkRow:
    """One worklist item as read: the case, the facts that place it, and its rank (the group
    of ``domain.worklist.priority.RANKS``, or ``OTHER``) as the page's SQL computed it."""

    case: Case
    facts: WorkFacts
    rank: int

    @property
    def sort_value(self) -> list[Any]:
        return [self.rank, self.case.days_past_due, str(self.case.outstanding_amount)]


# ---- Dates per portfolio and date arithmetic ---------------------------------------------------


class date_plus_days(FunctionElement[date]):
    """``day + days`` for a DATE and an integer column, on PostgreSQL and SQLite."""

    type = Date()
    inherit_cache = True
    name = "date_plus_days"


@compiles(date_plus_days)
def _date_plus_days(element: date_plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"({compiler.process(day, **kw)} + {compiler.process(days, **kw)})"


@compiles(date_plus_days, "sqlite")
def _date_plus_days_sqlite(element: date_plus_days, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, '+' || {compiler.process(days, **kw)} || ' days')"


def _per_portfolio(values: dict[str, Any], default: Any, type_: Any) -> ColumnElement[Any]:
    """Returns the value for each case's portfolio (``default`` for any other portfolio)."""
    whens = [
        (c.portfolio == name, literal(value, type_))
        for name, value in sorted(values.items())
        if value != default
    ]
    if not whens:
        return literal(default, type_)
    return case(*whens, else_=literal(default, type_))


def portfolio_today(now: datetime) -> ColumnElement[date]:
    """Each case's portfolio's local date at ``now``."""
    days = {p: local_date(zone, now) for p, zone in TIME_ZONES.items()}
    return _per_portfolio(days, local_date(DEFAULT_TIME_ZONE, now), Date())


def portfolio_day_end(now: datetime) -> ColumnElement[datetime]:
    """The instant each case's portfolio's local day ends, at ``now``."""

    def end(zone: str) -> datetime:
        return local_instant(local_date(zone, now) + timedelta(days=1), time(0), ZoneInfo(zone))

    ends = {p: end(zone) for p, zone in TIME_ZONES.items()}
    return _per_portfolio(ends, end(DEFAULT_TIME_ZONE), UTCDateTime())


# ---- The facts and the order --------------------------------------------------------------------


def _facts(owner: WorklistOwner, scope: ColumnElement[bool], now: datetime) -> Any:
    """The subquery of the owner's OPEN cases in scope, with the facts that place each."""
    today, day_end = portfolio_today(now), portfolio_day_end(now)
    k, later = tables.contacts.alias("k"), tables.contacts.alias("later")
    # A callback is answered by a completed voice contact with the borrower at or after the
    # time asked for, or by the borrower calling in after asking; nothing else (a text, a call
    # before the time, a call to someone else, a refused attempt) answers it.
    answered = exists().where(
        later.c.case_id == k.c.case_id,
        later.c.id != k.c.id,
        later.c.outcome.is_not(None),
        later.c.blocked.is_(False),
        later.c.channel.in_(sorted(VOICE_CHANNELS)),
        later.c.party == ContactParty.BORROWER.value,
        or_(
            later.c.at >= k.c.callback_at,
            and_(later.c.direction == ContactDirection.INBOUND.value, later.c.at > k.c.at),
        ),
    )
    callback = (
        select(func.min(k.c.callback_at))
        .where(
            k.c.case_id == c.id,
            k.c.callback_at.is_not(None),
            k.c.callback_at < day_end,
            k.c.blocked.is_(False),
            ~answered,
        )
        .scalar_subquery()
    )
    p, latest = tables.promises.alias("p"), tables.promises.alias("latest")
    due_today = (
        select(func.max(p.c.due_date))
        .where(p.c.case_id == c.id, p.c.status == PromiseStatus.OPEN.value, p.c.due_date == today)
        .scalar_subquery()
    )
    latest_id = (
        select(func.max(latest.c.id))
        .where(
            latest.c.case_id == c.id,
            latest.c.status.not_in([PromiseStatus.SUPERSEDED.value, PromiseStatus.CANCELLED.value]),
        )
        .correlate(tables.cases)  # the case of the outermost SELECT, two levels up
        .scalar_subquery()
    )
    broken = (
        select(p.c.due_date)
        .where(
            p.c.id == latest_id,
            or_(
                p.c.status == PromiseStatus.BROKEN.value,
                and_(
                    p.c.status == PromiseStatus.OPEN.value,
                    date_plus_days(p.c.due_date, p.c.grace_days) < today,
                ),
            ),
        )
        .scalar_subquery()
    )
    return (
        select(
            c.id.label("case_id"),
            callback.label("callback_at"),
            due_today.label("promise_due"),
            broken.label("broken_due"),
        )
        .where(owner.clause(), scope, c.status == CaseStatus.OPEN.value)
        .subquery("facts")
    )


def _rank(facts: Any) -> ColumnElement[int]:
    return case(
        (facts.c.callback_at.is_not(None), RANKS[Reason.CALLBACK_REQUESTED]),
        (facts.c.promise_due.is_not(None), RANKS[Reason.PROMISE_DUE_TODAY]),
        (facts.c.broken_due.is_not(None), RANKS[Reason.PROMISE_BROKEN]),
        else_=OTHER,
    )


def page_statement(
    owner: WorklistOwner,
    scope: ColumnElement[bool],
    now: datetime,
    after: keyset.Keyset | None,
) -> Select[Any]:
    """The page's SELECT (``keyset.fetch_page`` adds the LIMIT)."""
    facts = _facts(owner, scope, now)
    rank = _rank(facts)
    order = [(rank, False), (c.days_past_due, True), (c.outstanding_amount, True)]
    statement = select(
        Case,
        facts.c.callback_at,
        facts.c.promise_due,
        facts.c.broken_due,
        rank.label("rank"),
    ).join(facts, facts.c.case_id == c.id)
    if after is not None:
        statement = statement.where(keyset.after_row_clause(order, after.value, c.id, after.id))
    return statement.order_by(
        rank.asc(), c.days_past_due.desc(), c.outstanding_amount.desc(), c.id.asc()
    )


async def fetch_page(
    session: AsyncSession,
    owner: WorklistOwner,
    scope: ColumnElement[bool],
    now: datetime,
    after: keyset.Keyset | None,
    first: int,
) -> tuple[list[WorkRow], bool]:
    """Returns up to ``first`` items after the keyset and whether more follow."""
    rows, more = await keyset.fetch_page(
        session, page_statement(owner, scope, now, after), first, scalars=False
    )
    items = []
    for row in rows:
        case_, callback_at, promise_due, broken_due, rank = row
        facts = WorkFacts(
            callback_at=callback_at,
            promise_due=promise_due,
            broken_promise_due=broken_due,
            days_past_due=case_.days_past_due,
            outstanding=Money(case_.outstanding_amount, case_.currency),
        )
        items.append(WorkRow(case_, facts, int(rank)))
    return items, more


async def count(session: AsyncSession, owner: WorklistOwner, scope: ColumnElement[bool]) -> int:
    """Returns how many cases the owner's worklist holds."""
    statement = (
        select(func.count())
        .select_from(tables.cases)
        .where(owner.clause(), scope, c.status == CaseStatus.OPEN.value)
    )
    return int((await session.execute(statement)).scalar_one())


def encode_cursor(row: WorkRow) -> str:
    """An opaque cursor of the item's rank, DPD, outstanding and case id (no personal data)."""
    assert row.case.id is not None
    return keyset.encode_cursor(LISTING, row.case.id, row.sort_value)


def decode_cursor(cursor: str) -> keyset.Keyset:
    """Returns the position a worklist cursor encodes, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, LISTING)
    raw = position.value
    try:
        if not (isinstance(raw, list) and len(raw) == 3):
            raise InvalidCursor("malformed cursor")
        rank, dpd, outstanding = raw
        if not (is_int(rank) and 1 <= rank <= OTHER and is_int(dpd)):
            raise InvalidCursor("malformed cursor")
        if not isinstance(outstanding, str) or not is_amount(Decimal(outstanding)):
            raise InvalidCursor("malformed cursor")
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidCursor("malformed cursor") from None
    return keyset.Keyset([rank, dpd, Decimal(outstanding)], position.id)
