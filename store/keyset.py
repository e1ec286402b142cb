"""Keyset pagination: the one cursor codec and the one "after this row" predicate.

A cursor names its listing (and ordering), the sort value of the last row and that row's id,
as URL-safe base64 of compact JSON. It never holds a confidential value: listings sort only on
ordinary columns. Every listing in store/ pages through ``after_clause`` and ``fetch_page``, and
the API turns the rows into a Relay connection in ``api.common.pagination``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from store.keys import is_row_id


class InvalidCursor(ValueError):
    """The cursor is not one this listing issued (or was issued for another ordering)."""


@dataclass(frozen=True)
class Keyset:
    """The position after which the next page starts: a sort value (None when the listing
    sorts by id alone) and the id that breaks ties."""

    value: Any
    id: int


def encode_cursor(listing: str, row_id: int, value: Any = None) -> str:
    """Returns the opaque cursor of a row in a listing (``value``: a JSON-native sort value)."""
    data: dict[str, Any] = {"l": listing, "i": row_id}
    if value is not None:
        data["v"] = value
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, listing: str) -> Keyset:
    """Returns the keyset a cursor of ``listing`` encodes (the sort value still raw JSON, for
    the listing to check), or raises InvalidCursor."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, RecursionError):
        raise InvalidCursor("malformed cursor") from None
    if not isinstance(data, dict):
        raise InvalidCursor("malformed cursor")
    if data.get("l") != listing:
        raise InvalidCursor("the cursor belongs to another ordering or another list")
    row_id = data.get("i")
    # Only ids a row can have: anything else would fail in the driver, not here.
    if not isinstance(row_id, int) or not is_row_id(row_id):
        raise InvalidCursor("malformed cursor")
    return Keyset(data.get("v"), row_id)


def after_clause(
    column: Any, descending: bool, id_column: Any, after: Keyset
) -> ColumnElement[bool]:
    """Returns the predicate for rows after ``after`` in ``column`` order, ties broken by
    ascending id (``column`` None: the listing is in ``id_column`` order alone)."""
    if column is None:
        first: ColumnElement[bool] = id_column < after.id if descending else id_column > after.id
        return first
    beyond = column < after.value if descending else column > after.value
    return or_(beyond, and_(column == after.value, id_column > after.id))


def row_after(column: Any, descending: bool, id_column: Any, after: Keyset) -> ColumnElement[bool]:
    """Returns the predicate for rows after ``after`` in a listing whose id breaks ties in the
    sort's own direction: one row-value comparison, ``(column, id) > (value, id)`` (``<``
    descending). An index on (column, id) serves it as a range, read forwards or backwards, so a
    page deep in the list costs what the first does; ``after_clause``'s OR can only be filtered,
    reading every row before the position (PostgreSQL, SQLite)."""
    position = tuple_(column, id_column)
    return position < (after.value, after.id) if descending else position > (after.value, after.id)


async def fetch_page(
    session: AsyncSession, statement: Select[Any], first: int, *, scalars: bool = True
) -> tuple[list[Any], bool]:
    """Runs a page statement for ``first + 1`` rows; returns the first ``first`` and whether
    more follow (the extra row is never shown)."""
    result = await session.execute(statement.limit(first + 1))
    rows: Sequence[Any] = result.scalars().all() if scalars else result.all()
    return list(rows[:first]), len(rows) > first


def after_row_clause(
    columns: Sequence[tuple[Any, bool]],
    values: Sequence[Any],
    id_column: Any,
    row_id: int,
    *,
    id_descending: bool = False,
) -> ColumnElement[bool]:
    """Returns the predicate for rows after a position in a composite order: ``columns`` are
    (expression, descending?) pairs compared in turn with ``values``, and the id breaks the
    last tie (ascending unless ``id_descending``). The expressions must not be NULL."""
    if len(columns) != len(values):
        raise ValueError("one value per ordering column")
    last: ColumnElement[bool] = id_column < row_id if id_descending else id_column > row_id
    for (column, descending), value in reversed(list(zip(columns, values, strict=True))):
        beyond = column < value if descending else column > value
        last = or_(beyond, and_(column == value, last))
    return last
