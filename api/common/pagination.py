"""Relay cursor connections: the one module every list that can grow pages through.

A listing in store/ returns a page of rows and whether more follow (``store.keyset``); this
module turns it into ``XConnection { edges { cursor node } pageInfo totalCount }`` with the
complete Relay ``PageInfo``. A new connection is ``Connection[NewType]``: strawberry names it
``NewTypeConnection`` (and its edge ``NewTypeEdge``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from api.errors import BadUserInput

DEFAULT_PAGE = 20
MAX_PAGE = 100

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")


@strawberry.type(description="Where a page lies in its list (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Items precede this page (true on every page fetched with `after`)."
    )
    start_cursor: str | None = strawberry.field(description="The first edge's cursor.")
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor: pass it as `after` for the next page."
    )


@strawberry.type(description="One item of a page, with the cursor to continue after it.")
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type(description="A page of a list in keyset order (Relay cursor connection).")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items match the filter, over all pages.")
    async def total_count(self) -> int:
        return await self._count()


@strawberry.type(
    description="How many items match: exact up to a threshold, an estimate beyond it "
    "(`exact` says which)."
)
class CountEstimate:
    count: int = strawberry.field(
        description="The number of items, or an estimate of it when `exact` is false."
    )
    exact: bool = strawberry.field(
        description="True: `count` is exact. False: more items match than the threshold and "
        "`count` is the database's estimate, from its statistics, of how many."
    )


def page_size(first: int | None) -> int:
    """Returns the page size, or raises BadUserInput outside 0…MAX_PAGE."""
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise BadUserInput(f"first must be between 0 and {MAX_PAGE}")
    return first


def connection(
    rows: Sequence[RowT],
    more: bool,
    *,
    after: str | None,
    cursor: Callable[[RowT], str],
    node: Callable[[RowT], NodeT],
    count: Callable[[], Awaitable[int]],
) -> Connection[NodeT]:
    """Returns the connection of one page of rows (``more``: rows follow the page)."""
    edges = [Edge(cursor=cursor(row), node=node(row)) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more,
            # A cursor is issued only for a row of an earlier page: that row precedes this one.
            has_previous_page=bool(after),
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=count,
    )
