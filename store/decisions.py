"""The decisions feed in SQL: appending decisions (projected set-based from case events, or given
as rows) and reading the stream in id order.

Exactly once, in order, resumable: a consumer reads ``id > cursor`` in id order, so ids must
become visible in id order. On PostgreSQL two transactions can commit out of id order, and a
reader would then skip the lower id committed later. So every writer takes the transaction-level
advisory lock ``DECISIONS_LOCK`` right before it inserts decisions, and holds it until it commits:
ids are taken and committed one writer at a time. SQLite runs one writer at a time already.

The lock is taken at the end of a transaction, so that it is held briefly, and in one order by
every writer, so that writers never deadlock: after the rows of the change itself (a decision
references only rows its own events already reference: the case, the actor — never a row another
writer may hold), and before the audit chain's head (``store.audit.append``): the unit of work's
commit projects its events, then appends its audit entries and commits; a batch job projects
with ``append_decisions_from_events`` after its own writes, then may append its audit entries.

A decision projected from a case event names the event (``event_id``, unique): projecting the
same events again adds nothing. Which events are decisions, of which kind and with which data
is ``domain.decisions`` (data, no code per kind).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from domain.decisions import LOOKUP_KEYS, RULES, Field, Lookup, Rule
from store import keyset, tables
from store.dialect import json_object
from store.types import Amount

# The advisory lock that serialises decision writers on PostgreSQL (pg_advisory_xact_lock):
# CRC-32 of "arrears.decisions". No other lock of the project may use this key.
DECISIONS_LOCK = 0x6B0AD46B
LISTING = "decisions"
BATCH = 1000  # event ids per projecting statement (bound parameters stay few)

d = tables.decisions
ev = tables.case_events.c

# The rows a decision's data is read from besides its event (domain.decisions.Lookup).
_LOOKUP_TABLES = {Lookup.AGENCY: tables.agencies, Lookup.PROMISE: tables.promises}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Connection = AsyncConnection | AsyncSession


@dataclass(frozen=True)
class DecisionRow:
    """A decision to append as it is (one not projected from a case event)."""

    at: datetime
    kind: str
    data: Mapping[str, object]
    case_id: int | None = None
    borrower_id: int | None = None  # only for a decision about the borrower as a whole
    actor_id: int | None = None


# ---- writing ------------------------------------------------------------------------------------


async def _dialect(conn: Connection) -> str:
    if isinstance(conn, AsyncSession):
        return (await conn.connection()).dialect.name
    return conn.dialect.name


async def serialise_writers(conn: Connection) -> None:
    """Waits for, and holds until this transaction ends, the right to add decisions (PostgreSQL;
    SQLite has one writer at a time)."""
    if await _dialect(conn) == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DECISIONS_LOCK})


async def append_decisions(conn: Connection, rows: Sequence[DecisionRow]) -> None:
    """Inserts decision rows in order, at the end of the caller's transaction (only audit
    entries may follow)."""
    if not rows:
        return
    await serialise_writers(conn)
    await conn.execute(
        insert(d),
        [
            {
                "at": row.at,
                "kind": str(row.kind),
                "case_id": row.case_id,
                "borrower_id": row.borrower_id,
                "actor_id": row.actor_id,
                "data": dict(row.data),
            }
            for row in rows
        ],
    )


async def append_decisions_from_events(conn: Connection, after_event_id: int) -> int:
    """Projects the decision-worthy case events with id > ``after_event_id`` that have no
    decision yet into decisions, in event order, in one INSERT…SELECT; returns how many. Call
    it at the end of the transaction that wrote the events (only audit entries may follow)."""
    await serialise_writers(conn)
    result = await conn.execute(_projection(ev.id > after_event_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def project_events(conn: Connection, event_ids: Sequence[int]) -> int:
    """Projects these case events (those that are decisions) into decisions, in event order;
    returns how many. The unit of work calls it for the events it wrote, as it commits."""
    if not event_ids:
        return 0
    await serialise_writers(conn)
    added = 0
    ordered = sorted(event_ids)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        result = await conn.execute(_projection(ev.id.in_(chunk)))
        added += int(result.rowcount)  # type: ignore[attr-defined]
    return added


def _projection(events: ColumnElement[bool]) -> Any:
    """INSERT INTO decisions SELECT …: one SELECT per rule over the chosen events, in event
    order, leaving out events that already have their decision."""
    parts = [_select(rule, events) for rule in RULES]
    rows = union_all(*parts).subquery("projected")
    columns = ["at", "kind", "case_id", "actor_id", "event_id", "data"]
    source = select(*(rows.c[name] for name in columns)).order_by(rows.c.event_id)
    return insert(d).from_select(columns, source)


def _select(rule: Rule, events: ColumnElement[bool]) -> Select[Any]:
    source: FromClause = tables.case_events
    joined: dict[Lookup, FromClause] = {}
    for lookup in dict.fromkeys(f.lookup for f in rule.fields if f.lookup is not None):
        table = _LOOKUP_TABLES[lookup].alias(f"{lookup.value}_of_event")
        source = source.outerjoin(table, table.c.id == ev.data[LOOKUP_KEYS[lookup]].as_integer())
        joined[lookup] = table
    conditions = [
        ev.name == rule.event,
        events,
        *(ev.data[key].as_string() == _literal(value) for key, value in rule.when),
        ~exists().where(d.c.event_id == ev.id),
    ]
    if rule.changed is not None:
        before, after = rule.changed
        conditions.append(ev.data[before].as_string().is_distinct_from(ev.data[after].as_string()))
    pairs: list[ColumnElement[Any]] = []
    for field in rule.fields:
        pairs += [_literal(field.name), _value(field, joined)]
    return (
        select(
            ev.at.label("at"),
            _literal(rule.kind.value).label("kind"),
            ev.case_id.label("case_id"),
            ev.actor_id.label("actor_id"),
            ev.id.label("event_id"),
            json_object(*pairs).label("data"),
        )
        .select_from(source)
        .where(and_(*conditions))
    )


def _value(field: Field, joined: Mapping[Lookup, FromClause]) -> ColumnElement[Any]:
    """A field's value as text (a decimal string for money), or its default when absent."""
    value: ColumnElement[Any]
    if field.lookup is None:
        value = cast(ev.data[field.key].as_string(), String)
    else:
        column = joined[field.lookup].c[field.key]
        value = money_text(column) if isinstance(column.type, Amount) else cast(column, String)
    if field.default is not None:
        value = func.coalesce(value, _literal(field.default))
    return value


def _literal(value: str) -> ColumnElement[str]:
    """A constant of the rules (names, kinds, codes) as a SQL string literal: typed where a
    bound parameter would not be (json_build_object's variadic arguments)."""
    if not _NAME.match(value):
        raise ValueError(f"not a plain name: {value!r}")
    return literal_column(f"'{value}'", String)


class money_text(FunctionElement[str]):
    """An amount column as its decimal string with two places ("1234.50", "-0.05")."""

    type = String()
    inherit_cache = True


@compiles(money_text)
def _money_text_minor_units(element: money_text, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps integer minor units (store.types.Amount): sign, units, two-digit cents.
    x = compiler.process(element.clauses, **kw)
    return (
        f"(CASE WHEN {x} < 0 THEN '-' ELSE '' END || (abs({x}) / 100) || '.' || "
        f"substr('00' || (abs({x}) - abs({x}) / 100 * 100), -2, 2))"
    )


@compiles(money_text, "postgresql")
def _money_text_numeric(element: money_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"


# ---- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One decision of the feed as its consumers read it (no personal data)."""

    id: int
    at: datetime
    kind: str
    case_id: int | None
    case_reference: str | None
    account_numbers: tuple[str, ...]
    borrower_external_id: str | None
    actor_login: str | None  # None: the system (a batch job)
    data: Mapping[str, Any]


def encode_cursor(decision_id: int) -> str:
    """The cursor after a decision (the same for GraphQL edges and the export)."""
    return keyset.encode_cursor(LISTING, decision_id)


def decode_cursor(cursor: str) -> int:
    """The id of the decision a cursor was issued after, or raises InvalidCursor."""
    return keyset.decode_cursor(cursor, LISTING).id


async def fetch_page(
    conn: Connection, after_id: int, first: int, through: int | None = None
) -> tuple[list[Decision], bool]:
    """The first ``first`` decisions with id > ``after_id`` (and ≤ ``through``), oldest first,
    and whether more follow. Account numbers load in one more statement per page."""
    c, b, s = tables.cases.c, tables.borrowers.c, tables.staff.c
    conditions = [d.c.id > after_id]
    if through is not None:
        conditions.append(d.c.id <= through)
    stmt = (
        select(
            d.c.id,
            d.c.at,
            d.c.kind,
            d.c.case_id,
            d.c.borrower_id,
            d.c.data,
            c.reference,
            b.external_id,
            s.login,
        )
        .select_from(
            d.outerjoin(tables.cases, c.id == d.c.case_id)
            .outerjoin(tables.borrowers, b.id == func.coalesce(d.c.borrower_id, c.borrower_id))
            .outerjoin(tables.staff, s.id == d.c.actor_id)
        )
        .where(*conditions)
        .order_by(d.c.id)
        .limit(first + 1)
    )
    rows = (await conn.execute(stmt)).all()
    more = len(rows) > first
    rows = rows[:first]
    accounts = await _account_numbers(
        conn,
        [r.case_id for r in rows if r.case_id is not None],
        [r.borrower_id for r in rows if r.case_id is None and r.borrower_id is not None],
    )
    decisions = [
        Decision(
            id=r.id,
            at=r.at,
            kind=r.kind,
            case_id=r.case_id,
            case_reference=r.reference,
            account_numbers=accounts.get(
                ("case", r.case_id) if r.case_id is not None else ("borrower", r.borrower_id), ()
            ),
            borrower_external_id=r.external_id,
            actor_login=r.login,
            data=dict(r.data),
        )
        for r in rows
    ]
    return decisions, more


async def _account_numbers(
    conn: Connection, case_ids: Iterable[int], borrower_ids: Iterable[int]
) -> dict[tuple[str, int], tuple[str, ...]]:
    """The account numbers of the debts of these cases (and of these borrowers), sorted."""
    debts = tables.debts.c
    found: dict[tuple[str, int], list[str]] = {}
    for owner, column, ids in (
        ("case", debts.case_id, sorted(set(case_ids))),
        ("borrower", debts.borrower_id, sorted(set(borrower_ids))),
    ):
        if not ids:
            continue
        stmt = (
            select(column, debts.account_number)
            .where(column.in_(ids))
            .order_by(column, debts.account_number)
        )
        for key, number in (await conn.execute(stmt)).all():
            found.setdefault((owner, key), []).append(number)
    return {key: tuple(numbers) for key, numbers in found.items()}


async def count(conn: Connection) -> int:
    """How many decisions the feed holds."""
    return int((await conn.execute(select(func.count()).select_from(d))).scalar_one())


async def last_id(conn: Connection) -> int:
    """The id of the newest decision (0 when there is none)."""
    return int((await conn.execute(select(func.coalesce(func.max(d.c.id), 0)))).scalar_one())


async def count_between(conn: Connection, after_id: int, through: int) -> int:
    """How many decisions have ids in (after_id, through] (for a progress bar)."""
    stmt = select(func.count()).select_from(d).where(d.c.id > after_id, d.c.id <= through)
    return int((await conn.execute(stmt)).scalar_one())
