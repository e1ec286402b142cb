"""strategies: every version of every strategy and challenger, with its status now."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.permissions import needs
from api.strategies.types import StrategyType
from store import strategy_queries


@strawberry.type
class StrategyQuery:
    @strawberry.field(
        description="Every version of every treatment strategy and of its challenger: the "
        "checked-in default, approved versions and pending proposals (DRAFT), with the status "
        "of each now. Ordered by name, champion before challenger, then newest first "
        "(proposals, approved versions by number, the checked-in default last).",
        extensions=needs("strategy:read"),
    )
    async def strategies(self, info: Info) -> list[StrategyType]:
        ctx = info.context
        now = ctx.clock.now()
        rows = await ctx.read(lambda session: strategy_queries.strategy_versions(session, now))
        return [StrategyType.from_row(row) for row in rows]
