"""The few things PostgreSQL and SQLite spell differently, in one place for every batch job (the
daily run, the decisions feed, the feed import): whole days between two dates, a date some days
on, a JSON object built in SQL, a case's stable variant bucket (MD5), the local day of an
instant in a time zone; ``planned_rows``, the planner's estimate of a query's rows (PostgreSQL
only); and ``render``, which gives an expression as SQL text for statements written as text (the
feed import's merge)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Date, Integer, Select, String, cast, func, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import JSON


def is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def days_between(conn: AsyncConnection, later: Any, earlier: Any) -> ColumnElement[int]:
    """Returns ``later - earlier`` in whole days (two dates)."""
    if is_postgresql(conn):
        return (later - earlier).self_group()  # type: ignore[no-any-return]
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def add_days(conn: AsyncConnection, day: Any, days: Any) -> ColumnElement[date]:
    """Returns the date ``days`` (an integer expression) after ``day``."""
    if is_postgresql(conn):
        return type_coerce((day + days).self_group(), Date)
    return type_coerce(func.date(day, "+" + cast(days, String) + " days"), Date)


class variant_bucket(FunctionElement[int]):
    """A case's stable bucket of a strategy (``variant_bucket(name, case_id)``), the SQL twin of
    ``domain.strategies.segmentation.variant_bucket``: the first 32 bits of the MD5 of
    ``name:case_id`` modulo 10000 on PostgreSQL; SQLite has no MD5, so ``store.db`` registers
    the Python rule as ``arrears_bucket`` on every connection."""

    type = Integer()
    inherit_cache = True


@compiles(variant_bucket)
def _arrears_bucket(element: variant_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    return f"arrears_bucket({compiler.process(element.clauses, **kw)})"


@compiles(variant_bucket, "postgresql")
def _md5_bucket(element: variant_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    name, case_id = (compiler.process(c, **kw) for c in element.clauses)
    digest = f"md5(({name}) || ':' || CAST(({case_id}) AS TEXT))"
    return f"(('x' || substr({digest}, 1, 8))::bit(32)::bigint % 10000)"


class json_object(FunctionElement[Any]):
    """A JSON object of alternating keys and values: ``json_build_object`` on PostgreSQL,
    ``json_object`` on SQLite."""

    type = JSON()
    inherit_cache = True


@compiles(json_object)
def _json_object(element: json_object, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_build_object(element: json_object, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


class local_day(FunctionElement[date]):
    """The calendar day an instant falls on in an IANA time zone (``local_day(zone, at)``), the
    SQL twin of ``domain.portfolios.local_date``: ``CAST(timezone(zone, at) AS DATE)`` on
    PostgreSQL; SQLite has no time zones, so ``store.db`` registers the Python rule as
    ``arrears_local_day`` on every connection."""

    type = Date()
    inherit_cache = True


@compiles(local_day)
def _arrears_local_day(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"arrears_local_day({compiler.process(element.clauses, **kw)})"


@compiles(local_day, "postgresql")
def _timezone_day(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    zone, at = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(timezone({zone}, {at}) AS DATE)"


def render(conn: AsyncConnection, expression: ClauseElement) -> str:
    """The expression as SQL text of the connection's dialect, constants inlined (only our own
    values: policy data, dates we parsed — never text from a file)."""
    compiled = expression.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <statement>``: the plan of a query, which is not run."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return f"EXPLAIN (FORMAT JSON) {compiler.process(element.statement, **kw)}"


async def planned_rows(conn: AsyncConnection, statement: Select[Any]) -> int | None:
    """Returns how many rows PostgreSQL's planner expects ``statement`` to return, from the
    table statistics (EXPLAIN: the query is planned, not run); None on SQLite, which has no such
    estimate."""
    if not is_postgresql(conn):
        return None
    plan = (await conn.execute(_Explain(statement))).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
