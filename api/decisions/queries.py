"""``decisions(first, after)``: the decisions feed, oldest first, resumable by cursor."""

from __future__ import annotations

import strawberry

from api.common.pagination import Connection, connection, page_size
from api.context import Info
from api.decisions.types import Decision
from api.errors import BadUserInput
from api.permissions import needs
from store import decisions
from store.decisions import Decision as DecisionRow
from store.keyset import InvalidCursor


@strawberry.type
class DecisionQuery:
    @strawberry.field(
        description="Decisions to book in core banking, oldest first, each once: pass a page's "
        "`endCursor` as `after` to resume (the same cursors as `arrears export decisions`).",
        extensions=needs("decision:read"),
    )
    async def decisions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Decision]:
        ctx = info.context
        limit = page_size(first)
        try:
            after_id = decisions.decode_cursor(after) if after else 0
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        rows, more = await ctx.read(lambda session: decisions.fetch_page(session, after_id, limit))
        ctx.audit.read_decisions(
            [row.case_id for row in rows if row.case_id is not None],
            len(rows),
            (rows[0].id, rows[-1].id) if rows else None,
        )

        def cursor(row: DecisionRow) -> str:
            return decisions.encode_cursor(row.id)

        return connection(
            rows,
            more,
            after=after,
            cursor=cursor,
            node=Decision.from_row,
            count=lambda: ctx.read(decisions.count),
        )
