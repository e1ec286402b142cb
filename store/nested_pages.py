"""A case's nested lists (contacts, payments, timeline), paged for many cases at once.

A list of cases asks each case for a page of its contacts, payments or timeline; the API's
per-request DataLoaders gather those asks and hand them here. The asks that share a page size
and a position (``first``, ``after``) are answered by ONE statement for all their cases: each
case's rows are numbered in the listing's order by ``ROW_NUMBER() OVER (PARTITION BY case_id
ORDER BY …)`` and the first ``first + 1`` are kept (the extra one only says that more follow).
The counts are one grouped ``COUNT(*)`` per batch. So a page of cases costs the same statements
whatever its size. The order, the keyset predicate and the cursors are the listings' own
(``store.contacts_queries``, ``store.payment_queries``, ``store.timeline_queries``), and every
statement keeps to the cases the caller's scope lets through.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.contacts.model import Contact
from domain.payments.model import Payment
from store import keyset, tables, timeline_queries
from store.keyset import Keyset
from store.timeline_queries import TimelineRow

T = TypeVar("T")

cs, ct, y = tables.cases.c, tables.contacts.c, tables.payments.c


@dataclass(frozen=True)
class PageKey:
    """One case's page: the case, the page size and where it starts (``cursor`` as the caller
    gave it, ``after`` the position it decodes to). Keys compare by case, size and cursor."""

    case_id: int
    first: int
    cursor: str | None = None
    after: Keyset | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Page(Generic[T]):
    """Up to ``first`` rows of one case, in the listing's order, and whether more follow."""

    rows: list[T]
    more: bool


# Fetches the first ``first + 1`` rows after a position of each of some cases: (case id, row)
# pairs, by case, each case's in the listing's order.
Fetch = Callable[[list[int], int, Keyset | None], Awaitable[Sequence[tuple[int, T]]]]


async def _pages(keys: Sequence[PageKey], fetch: Fetch[T]) -> list[Page[T]]:
    """Returns the page of each key, one fetch per (page size, position) among the keys."""
    groups: dict[tuple[int, str | None], list[PageKey]] = defaultdict(list)
    for key in keys:
        groups[(key.first, key.cursor)].append(key)
    found: dict[PageKey, Page[T]] = {}
    for (first, _cursor), group in groups.items():
        rows: dict[int, list[T]] = defaultdict(list)
        for case_id, row in await fetch(sorted({k.case_id for k in group}), first, group[0].after):
            rows[case_id].append(row)
        for key in group:
            of_case = rows.get(key.case_id, [])
            found[key] = Page(of_case[:first], len(of_case) > first)
    return [found[key] for key in keys]


def _in_scope(case_ids: Sequence[int], scope: ColumnElement[bool]) -> Select[tuple[int]]:
    """The ids among ``case_ids`` of the cases the scope lets through."""
    return select(cs.id).where(cs.id.in_(case_ids), scope)


def _row_number(case_id: Any, *order: ColumnElement[Any]) -> ColumnElement[int]:
    return func.row_number().over(partition_by=case_id, order_by=order).label("row_no")


async def _counts(
    session: AsyncSession, case_ids: Sequence[int], case_id: Any, source: Any, *where: Any
) -> list[int]:
    """Returns each case's number of rows of ``source`` (one grouped count)."""
    stmt = select(case_id, func.count()).select_from(source).where(*where).group_by(case_id)
    found = {row[0]: int(row[1]) for row in (await session.execute(stmt)).all()}
    return [found.get(i, 0) for i in case_ids]


# ---- Contacts: newest first, ties by id (cursors: ``contacts_queries.encode_cursor``) ----------


async def contact_pages(
    session: AsyncSession, keys: Sequence[PageKey], scope: ColumnElement[bool]
) -> list[Page[Contact]]:
    """Returns a page of each case's contacts (refused attempts included), newest first."""

    async def fetch(case_ids: list[int], first: int, after: Keyset | None) -> list[Any]:
        ranked = select(ct.id, _row_number(ct.case_id, ct.at.desc(), ct.id.asc())).where(
            ct.case_id.in_(_in_scope(case_ids, scope))
        )
        if after is not None:
            ranked = ranked.where(keyset.after_clause(ct.at, True, ct.id, after))
        sub = ranked.subquery("ranked")
        stmt = (
            select(Contact)
            .join(sub, sub.c.id == ct.id)
            .where(sub.c.row_no <= first + 1)
            .order_by(ct.case_id, sub.c.row_no)
        )
        return [(row.case_id, row) for row in (await session.execute(stmt)).scalars()]

    return await _pages(keys, fetch)


async def contact_counts(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool]
) -> list[int]:
    """Returns how many contacts each case holds."""
    return await _counts(
        session, case_ids, ct.case_id, tables.contacts, ct.case_id.in_(_in_scope(case_ids, scope))
    )


# ---- Payments: newest first by when paid, ties by id (cursors: ``payment_queries``) -------------


async def payment_pages(
    session: AsyncSession, keys: Sequence[PageKey], scope: ColumnElement[bool]
) -> list[Page[Payment]]:
    """Returns a page of each case's payments, newest first (by when paid)."""

    async def fetch(case_ids: list[int], first: int, after: Keyset | None) -> list[Any]:
        ranked = select(y.id, _row_number(y.case_id, y.paid_at.desc(), y.id.asc())).where(
            y.case_id.in_(_in_scope(case_ids, scope))
        )
        if after is not None:
            ranked = ranked.where(keyset.after_clause(y.paid_at, True, y.id, after))
        sub = ranked.subquery("ranked")
        stmt = (
            select(Payment)
            .join(sub, sub.c.id == y.id)
            .where(sub.c.row_no <= first + 1)
            .order_by(y.case_id, sub.c.row_no)
        )
        return [(row.case_id, row) for row in (await session.execute(stmt)).scalars()]

    return await _pages(keys, fetch)


async def payment_counts(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool]
) -> list[int]:
    """Returns how many payments each case holds."""
    return await _counts(
        session, case_ids, y.case_id, tables.payments, y.case_id.in_(_in_scope(case_ids, scope))
    )


# ---- Timeline: newest first by (at, source, id) (``timeline_queries``) --------------------------


async def timeline_pages(
    session: AsyncSession, keys: Sequence[PageKey], scope: ColumnElement[bool]
) -> list[Page[TimelineRow]]:
    """Returns a page of each case's timeline, newest first."""

    async def fetch(case_ids: list[int], first: int, after: Keyset | None) -> list[Any]:
        u = timeline_queries.union_of(_in_scope(case_ids, scope))
        ranked = select(u, _row_number(u.c.case_id, *timeline_queries.order_of(u)))
        if after is not None:
            ranked = ranked.where(timeline_queries.after_clause(u, after))
        sub = ranked.subquery("ranked")
        stmt = select(sub).where(sub.c.row_no <= first + 1).order_by(sub.c.case_id, sub.c.row_no)
        rows = (await session.execute(stmt)).all()
        return [(row.case_id, timeline_queries.row_of(row)) for row in rows]

    return await _pages(keys, fetch)


async def timeline_counts(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool]
) -> list[int]:
    """Returns how many entries each case's timeline holds."""
    u = timeline_queries.union_of(_in_scope(case_ids, scope))
    return await _counts(session, case_ids, u.c.case_id, u)
