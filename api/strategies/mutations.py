"""promoteChallenger: parse input → propose the running challenger's definition as the next
champion version (maker–checker) → map the result (refusals audited as policy.change, DENIED)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.changes.types import RuleChangeNode
from api.common.inputs import check_text, utc_instant
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
)
from api.context import Info
from api.permissions import needs
from domain.errors import DomainError
from domain.strategies import services
from store import strategy_queries
from store.audit import AuditAction


@strawberry.input
class PromoteChallengerInput:
    strategy: str = strawberry.field(description="The strategy whose challenger runs now.")
    version: str = strawberry.field(
        description="The new champion version's label (e.g. 2026.2): letters, digits, '.', "
        "'_' and '-', at most 32, not used by another version of the strategy."
    )
    effective_from: datetime = strawberry.field(
        description="When the new champion takes effect once approved: now or later, with a "
        "time zone. From then on the challenger no longer runs."
    )
    reason: str = strawberry.field(description="Why (at most 500 characters).")


@strawberry.type
class PromoteChallengerSuccess:
    change: RuleChangeNode = strawberry.field(
        description="The pending STRATEGY change: someone else approves it (approveRuleChange)."
    )


PromoteChallengerPayload = Annotated[
    PromoteChallengerSuccess | ValidationError | NotFoundError | RuleViolationError | ConflictError,
    strawberry.union("PromoteChallengerPayload"),
]


@strawberry.type
class StrategyMutation:
    @strawberry.mutation(
        description="Proposes the challenger running now against a strategy as the strategy's "
        "next champion version, labelled `version`: the champion's portfolios and segments, "
        "the challenged segments replaced (at the place of the first of them) by the "
        "challenger's definition — all of them, and its description, when it challenges every "
        "segment. A STRATEGY change that takes effect from `effectiveFrom` once someone else "
        "approves it — the promotion; from then on the challenger stops. NO_CHALLENGER "
        "(strategy) when none runs; CHANGE_INVALID (strategy) when the result would name a "
        "segment or a step twice, or the champion has none of the challenged segments.",
        extensions=needs("rule_change:propose"),
    )
    async def promote_challenger(
        self, info: Info, input: PromoteChallengerInput
    ) -> PromoteChallengerPayload:
        ctx = info.context
        check_text("input.strategy", input.strategy)
        check_text("input.version", input.version)
        check_text("input.reason", input.reason)
        start = utc_instant("input.effectiveFrom", input.effective_from)
        assert start is not None and ctx.viewer.id is not None
        now = ctx.clock.now()
        treating = await ctx.read(
            lambda session: strategy_queries.strategies_in_effect(session, now)
        )
        await ctx.release()
        try:
            change = await services.promote_challenger(
                ctx.unit_of_work,
                ctx.clock,
                ctx.viewer.id,
                treating.get(input.strategy),
                input.version,
                start,
                input.reason,
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.POLICY_CHANGE, error, "RuleChange", None)
        return PromoteChallengerSuccess(change=RuleChangeNode.from_domain(change))
