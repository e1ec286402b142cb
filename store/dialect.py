"""The few things PostgreSQL and SQLite spell differently, in one place for every batch job (the
daily run, the decisions feed, the feed import): whole days between two dates and a JSON object
built in SQL; and ``render``, which gives an expression as SQL text for statements written as
text (the feed import's merge)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, cast, func
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
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


def render(conn: AsyncConnection, expression: ClauseElement) -> str:
    """The expression as SQL text of the connection's dialect, constants inlined (only our own
    values: policy data, dates we parsed — never text from a file)."""
    compiled = expression.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)
