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
from store import keyset, tables
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


# order → (sort column, descending?, value kind); the id always breaks ties, ascending.
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


def encode_cursor(case: Case, order: CaseOrder) -> str:
    """Returns an opaque cursor holding only the ordering value and the case id."""
    assert case.id is not None
    value = _sort_value(case, order)
    if isinstance(value, (Decimal, date)):
        value = str(value) if isinstance(value, Decimal) else value.isoformat()
    return keyset.encode_cursor(f"cases:{order.value}", case.id, value)


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
    position = keyset.decode_cursor(cursor, f"cases:{order.value}")
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
    if spec.assignee_login is not None:
        staff = select(tables.staff.c.id).where(tables.staff.c.login == spec.assignee_login)
        clauses.append(c.assignee_id.in_(staff))
    if spec.agency_name is not None:
        agency = select(tables.agencies.c.id).where(tables.agencies.c.name == spec.agency_name)
        clauses.append(c.agency_id.in_(agency))
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
        clauses.append(keyset.after_clause(column, desc, c.id, after))
    ordering = column.desc() if desc else column.asc()
    return select(Case).where(*clauses).order_by(ordering, c.id.asc())


async def fetch_page(
    session: AsyncSession, spec: CaseFilterSpec, order: CaseOrder, after: Keyset | None, first: int
) -> tuple[list[Case], bool]:
    """Returns up to ``first`` cases after the keyset and whether more follow."""
    return await keyset.fetch_page(session, page_statement(spec, order, after), first)


async def count(session: AsyncSession, spec: CaseFilterSpec) -> int:
    """Returns how many cases match the filter."""
    stmt = select(func.count()).select_from(tables.cases).where(*filter_clauses(spec))
    return int((await session.execute(stmt)).scalar_one())
