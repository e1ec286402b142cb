"""Case.timeline: everything that happened on a case, newest first, one paginated list."""

from __future__ import annotations

from api.common.pagination import connection, page_size
from api.context import Info
from api.errors import BadUserInput
from api.timeline.types import TimelineConnection, TimelineEntry
from store import timeline_queries
from store.keyset import InvalidCursor
from store.nested_pages import PageKey


async def timeline_of_case(
    info: Info, case_pk: int, first: int | None, after: str | None
) -> TimelineConnection:
    """Returns a page of a case's timeline (the case is already in the viewer's scope)."""
    ctx = info.context
    limit = page_size(first)
    try:
        position = timeline_queries.decode_cursor(after) if after else None
    except InvalidCursor as exc:
        raise BadUserInput(f"after: {exc}") from None
    # Batched over every case of the request that asks (one statement per size and position).
    page = await ctx.timeline_pages.load(PageKey(case_pk, limit, after or None, position))
    generic = connection(
        page.rows,
        page.more,
        after=after,
        cursor=timeline_queries.encode_cursor,
        node=TimelineEntry.from_row,
        count=lambda: ctx.timeline_counts.load(case_pk),
    )
    return TimelineConnection(
        edges=generic.edges, page_info=generic.page_info, _count=generic._count
    )
