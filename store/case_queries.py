"""Read side for cases: filtered, keyset-paginated listing and counting in SQL."""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.borrowers.model import ConfidentialField
from domain.cases.model import Case, CaseStage
from domain.portfolios import DEFAULT_TIME_ZONE, TIME_ZONES, local_date
from store import dialect, keyset, tables
from store.keys import is_amount, is_int, is_text
from store.keyset import InvalidCursor, Keyset

c = tables.cases.c


class CaseOrder(enum.StrEnum):
    DAYS_PAST_DUE_DESC = "DAYS_PAST_DUE_DESC"
    DAYS_PAST_DUE_ASC = "DAYS_PAST_DUE_ASC"
    OUTSTANDING_DESC = "OUTSTANDING_DESC"
    OUTSTANDING_ASC = "OUTSTANDING_ASC"
    OPENED_ON_DESC = "OPENED_ON_DESC"
    OPENED_ON_ASC = "OPENED_ON_ASC"
    REFERENCE_ASC = "REFERENCE_ASC"


# order → (sort column, descending?, value kind); the id breaks ties in the same direction, so
# that each order is the index (column, id) read forwards or backwards and the keyset one row
# comparison (``keyset.row_after``): the last page of a million cases costs what the first does
# (benchmarks/bench_scale.py). Ties of a descending order used to go by ascending id, which no
# index serves: a page deep in the list read every row before it (2 s at a million cases).
_ORDERS: dict[CaseOrder, tuple[Any, bool, str]] = {
    CaseOrder.DAYS_PAST_DUE_DESC: (c.days_past_due, True, "int"),
    CaseOrder.DAYS_PAST_DUE_ASC: (c.days_past_due, False, "int"),
    CaseOrder.OUTSTANDING_DESC: (c.outstanding_amount, True, "decimal"),
    CaseOrder.OUTSTANDING_ASC: (c.outstanding_amount, False, "decimal"),
    CaseOrder.OPENED_ON_DESC: (c.opened_on, True, "date"),
    CaseOrder.OPENED_ON_ASC: (c.opened_on, False, "date"),
    CaseOrder.REFERENCE_ASC: (c.reference, False, "str"),
}


def placement_current_on(today: date) -> ColumnElement[bool]:
    """Returns the WHERE clause over ``cases`` for placements current on the business date
    ``today`` in every portfolio (a batch run's date): ``placement_is_current`` in SQL."""
    return c.placement_ends_on >= today


def current_placement_clause(now: datetime) -> ColumnElement[bool]:
    """Returns the WHERE clause over ``cases`` for placements current at ``now``: the SQL twin
    of ``domain.agencies.placement.placement_is_current`` (end date inclusive, none is not)."""
    # Each portfolio compares against its own local date. Portfolios whose local date is the
    # default zone's share one comparison; while every zone agrees, that is the only one.
    default = local_date(DEFAULT_TIME_ZONE, now)
    others: dict[date, list[str]] = defaultdict(list)
    for portfolio, zone in sorted(TIME_ZONES.items()):
        today = local_date(zone, now)
        if today != default:
            others[today].append(portfolio)
    if not others:
        return placement_current_on(default)
    apart = [p for portfolios in others.values() for p in portfolios]
    return or_(
        *(and_(c.portfolio.in_(ps), placement_current_on(today)) for today, ps in others.items()),
        and_(c.portfolio.not_in(apart), placement_current_on(default)),
    )


@dataclass(frozen=True)
class BorrowerMatch:
    """An exact match on a borrower's confidential field; ``legal_stage_only`` keeps it to
    cases in legal proceedings (where the caller sees that field in clear only there)."""

    field: ConfidentialField
    value: str
    legal_stage_only: bool = False


@dataclass(frozen=True)
class CaseFilterSpec:
    classifications: Sequence[str] = ()
    stages: Sequence[str] = ()
    statuses: Sequence[str] = ()
    min_days_past_due: int | None = None
    max_days_past_due: int | None = None
    assignee_login: str | None = None
    agency_name: str | None = None
    search: str | None = None
    account_number: str | None = None
    borrower_matches: Sequence[BorrowerMatch] = ()
    extra: Sequence[ColumnElement[bool]] = field(default_factory=tuple)


def _sort_value(case: Case, order: CaseOrder) -> Any:
    column, _desc, _kind = _ORDERS[order]
    return getattr(case, column.key)


def _listing(order: CaseOrder) -> str:
    """The listing a cursor names: a descending order's says its ties go by descending id, so
    that a cursor issued while they went by ascending id is refused, never followed into
    another order."""
    return f"cases:{order.value}" + (":id-desc" if _ORDERS[order][1] else "")


def encode_cursor(case: Case, order: CaseOrder) -> str:
    """Returns an opaque cursor holding only the ordering value and the case id."""
    assert case.id is not None
    value = _sort_value(case, order)
    if isinstance(value, (Decimal, date)):
        value = str(value) if isinstance(value, Decimal) else value.isoformat()
    return keyset.encode_cursor(_listing(order), case.id, value)


_REFERENCE_LENGTH = 32  # cases.reference is VARCHAR(32)


def _fits(kind: str, raw: object) -> bool:
    """Whether a cursor's sort value is one the sort column can hold."""
    if kind == "int":
        return is_int(raw)
    if not isinstance(raw, str):
        return False
    if kind == "decimal":
        return is_amount(Decimal(raw))
    if kind == "date":
        return len(raw) == 10 and date.fromisoformat(raw).isoformat() == raw
    return len(raw) <= _REFERENCE_LENGTH and is_text(raw)


def decode_cursor(cursor: str, order: CaseOrder) -> Keyset:
    """Returns the keyset a cursor encodes, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, _listing(order))
    kind = _ORDERS[order][2]
    raw = position.value
    try:
        # Only values the columns can hold: anything else would fail in the driver, not here.
        if not _fits(kind, raw):
            raise InvalidCursor("malformed cursor")
        value: Any = raw
        if kind == "decimal":
            value = Decimal(raw)
        elif kind == "date":
            value = date.fromisoformat(raw)
    except (ValueError, TypeError, InvalidOperation):
        raise InvalidCursor("malformed cursor") from None
    return Keyset(value, position.id)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_clauses(spec: CaseFilterSpec) -> list[ColumnElement[bool]]:
    """Returns the WHERE clauses for a filter (all ANDed)."""
    clauses: list[ColumnElement[bool]] = list(spec.extra)
    if spec.classifications:
        clauses.append(c.classification.in_(list(spec.classifications)))
    if spec.stages:
        clauses.append(c.stage.in_(list(spec.stages)))
    if spec.statuses:
        clauses.append(c.status.in_(list(spec.statuses)))
    if spec.min_days_past_due is not None:
        clauses.append(c.days_past_due >= spec.min_days_past_due)
    if spec.max_days_past_due is not None:
        clauses.append(c.days_past_due <= spec.max_days_past_due)
    # Logins and agency names are unique: a scalar subquery, which PostgreSQL runs first and
    # then reads the (assignee_id | agency_id, days_past_due, id) index already in page order.
    # As a semi-join (IN) it scanned the whole book in DPD order for an agency's few hundred
    # cases (0.9 s at a million cases; benchmarks/bench_scale.py). No such login or agency:
    # NULL, which matches nothing, as before.
    if spec.assignee_login is not None:
        staff = select(tables.staff.c.id).where(tables.staff.c.login == spec.assignee_login)
        clauses.append(c.assignee_id == staff.scalar_subquery())
    if spec.agency_name is not None:
        agency = select(tables.agencies.c.id).where(tables.agencies.c.name == spec.agency_name)
        clauses.append(c.agency_id == agency.scalar_subquery())
    if spec.search:
        term = _escape_like(spec.search.strip())
        names = select(tables.borrowers.c.id).where(
            tables.borrowers.c.full_name.like(f"%{term}%", escape="\\")
        )
        clauses.append(
            or_(
                func.upper(c.reference).like(f"{term.upper()}%", escape="\\"),
                c.borrower_id.in_(names),
            )
        )
    if spec.account_number is not None:
        d = tables.debts.c
        clauses.append(c.id.in_(select(d.case_id).where(d.account_number == spec.account_number)))
    for match in spec.borrower_matches:
        column = tables.borrowers.c[match.field.value]
        borrowers = select(tables.borrowers.c.id).where(column == match.value)
        clauses.append(c.borrower_id.in_(borrowers))
        if match.legal_stage_only:
            clauses.append(c.stage == CaseStage.LEGAL.value)
    return clauses


def page_statement(spec: CaseFilterSpec, order: CaseOrder, after: Keyset | None) -> Select[Case]:
    """Returns the SELECT for the rows after the keyset: filters, keyset predicate, ORDER BY
    (``keyset.fetch_page`` adds the LIMIT)."""
    column, desc, _kind = _ORDERS[order]
    clauses = filter_clauses(spec)
    if after is not None:
        clauses.append(keyset.row_after(column, desc, c.id, after))
    ordering = (column.desc(), c.id.desc()) if desc else (column.asc(), c.id.asc())
    return select(Case).where(*clauses).order_by(*ordering)


async def fetch_page(
    session: AsyncSession, spec: CaseFilterSpec, order: CaseOrder, after: Keyset | None, first: int
) -> tuple[list[Case], bool]:
    """Returns up to ``first`` cases after the keyset and whether more follow."""
    return await keyset.fetch_page(session, page_statement(spec, order, after), first)


async def count(session: AsyncSession, spec: CaseFilterSpec) -> int:
    """Returns how many cases match the filter."""
    stmt = select(func.count()).select_from(tables.cases).where(*filter_clauses(spec))
    return int((await session.execute(stmt)).scalar_one())


# Up to this many matching cases ``estimate_count`` counts them exactly: the count stops there,
# so it costs about a page whatever the size of the book. Beyond it the planner estimates.
EXACT_COUNT_UP_TO = 10_000


@dataclass(frozen=True)
class CountEstimate:
    """How many cases match: exactly, or an estimate known to exceed ``EXACT_COUNT_UP_TO``."""

    count: int
    exact: bool


async def estimate_count(
    session: AsyncSession, spec: CaseFilterSpec, *, whole_book: bool
) -> CountEstimate:
    """Returns how many cases match the filter (its ``extra`` carries the caller's scope): the
    exact count up to ``EXACT_COUNT_UP_TO``; beyond, on PostgreSQL, the planner's estimate of
    the same filtered query (at least ``EXACT_COUNT_UP_TO + 1``, which is known); on SQLite,
    which has no estimate, the exact count.

    Only a caller who sees every case (``whole_book``) gets an estimate. The planner works from
    statistics over the whole table, so for a narrower scope its figure could tell of cases
    outside it (a team lead's 50,000 came out at 950,000, about the size of the book); such a
    caller gets the exact count of its own cases, which its scope keeps within reach."""
    if not whole_book:
        return CountEstimate(await count(session, spec), exact=True)
    limit = EXACT_COUNT_UP_TO
    matching = select(c.id).where(*filter_clauses(spec))
    # Counting over a LIMIT stops after limit + 1 rows: cheap whatever the size of the book.
    capped = select(func.count()).select_from(matching.limit(limit + 1).subquery())
    found = int((await session.execute(capped)).scalar_one())
    if found <= limit:
        return CountEstimate(found, exact=True)
    planned = await dialect.planned_rows(await session.connection(), matching)
    if planned is None:
        return CountEstimate(await count(session, spec), exact=True)
    return CountEstimate(max(planned, limit + 1), exact=False)
