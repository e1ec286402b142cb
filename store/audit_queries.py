"""Read side of the audit trail: filtered, keyset-paginated (newest first), and streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, exists, func, literal_column, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store import keyset, tables
from store.keyset import InvalidCursor

a = tables.audit_entries.c


@dataclass(frozen=True)
class AuditFilterSpec:
    actor_login: str | None = None
    action: str | None = None
    outcome: str | None = None
    resource_id: str | None = None
    borrower_id: int | None = None
    case_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    personal_data_only: bool = False


def _contains(column: Any, value: int | str, dialect: str) -> ColumnElement[bool]:
    """Returns whether a JSON array column holds the value, in the database's own JSON SQL."""
    if dialect == "postgresql":
        held: ColumnElement[bool] = column.cast(JSONB).contains([value])
        return held
    each = func.json_each(column).table_valued("value").alias("each")
    return exists(select(literal_column("1")).select_from(each).where(each.c.value == value))


def clauses(spec: AuditFilterSpec, dialect: str) -> list[ColumnElement[bool]]:
    """Returns the WHERE clauses of a filter."""
    where: list[ColumnElement[bool]] = []
    if spec.actor_login is not None:
        where.append(a.actor_login == spec.actor_login)
    if spec.action is not None:
        where.append(a.action == spec.action)
    if spec.outcome is not None:
        where.append(a.outcome == spec.outcome)
    if spec.since is not None:
        where.append(a.at >= spec.since)
    if spec.until is not None:
        where.append(a.at < spec.until)
    if spec.resource_id is not None:
        where.append(_contains(a.resource_ids, spec.resource_id, dialect))
    if spec.borrower_id is not None:
        where.append(_contains(a.borrower_ids, spec.borrower_id, dialect))
    if spec.case_id is not None:
        where.append(_contains(a.case_ids, spec.case_id, dialect))
    if spec.personal_data_only:
        # Entries that returned or revealed personal data list the fields concerned.
        where.append(func.length(a.fields.cast(Text)) > 2)
    return where or [true()]


LISTING = "audit"


def encode_cursor(entry_id: int) -> str:
    return keyset.encode_cursor(LISTING, entry_id)


def decode_cursor(cursor: str) -> int:
    """Returns the entry id a cursor points after, or raises InvalidCursor."""
    position = keyset.decode_cursor(cursor, LISTING)
    if position.value is not None:
        raise InvalidCursor("malformed cursor")
    return position.id


def _dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


def page_statement(spec: AuditFilterSpec, dialect: str, after: int | None) -> Select[Any]:
    """Returns the SELECT for the entries after ``after``, newest first (``keyset.fetch_page``
    adds the LIMIT)."""
    where = clauses(spec, dialect)
    if after is not None:
        where.append(keyset.after_clause(None, True, a.id, keyset.Keyset(None, after)))
    return select(tables.audit_entries).where(*where).order_by(a.id.desc())


async def fetch_page(
    session: AsyncSession, spec: AuditFilterSpec, after: int | None, first: int
) -> tuple[list[Any], bool]:
    """Returns up to ``first`` entries, newest first, and whether more follow."""
    stmt = page_statement(spec, _dialect(session), after)
    return await keyset.fetch_page(session, stmt, first, scalars=False)


async def count(session: AsyncSession, spec: AuditFilterSpec) -> int:
    stmt = select(func.count()).select_from(tables.audit_entries)
    stmt = stmt.where(*clauses(spec, _dialect(session)))
    return int((await session.execute(stmt)).scalar_one())


async def stream(conn: AsyncConnection, spec: AuditFilterSpec) -> AsyncIterator[Any]:
    """Yields matching entries oldest first, fetched in batches (constant memory)."""
    stmt = (
        select(tables.audit_entries)
        .where(*clauses(spec, conn.dialect.name))
        .order_by(a.id)
        .execution_options(yield_per=1000)
    )
    result = await conn.stream(stmt)
    async for row in result:
        yield row


async def stream_count(conn: AsyncConnection, spec: AuditFilterSpec) -> int:
    """Returns how many entries ``stream`` yields for the filter (for a progress bar)."""
    stmt = select(func.count()).select_from(tables.audit_entries)
    stmt = stmt.where(*clauses(spec, conn.dialect.name))
    return int((await conn.execute(stmt)).scalar_one())
