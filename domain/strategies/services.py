"""Use cases of strategies: promoting a running challenger, which proposes its definition as the
strategy's next champion version through maker–checker. A second person's approval makes it the
champion from its start — and from then on the challenger no longer runs (its start is no longer
later than the champion's)."""

from __future__ import annotations

from datetime import datetime

from domain.changes.errors import ChangeInvalid
from domain.changes.model import RuleChange
from domain.changes.services import UowFactory, propose_rule_change
from domain.clock import Clock
from domain.rulesets import RuleSetKind
from domain.strategies.definition import promotion_payload
from domain.strategies.errors import NoChallenger
from domain.strategies.model import InEffect


async def promote_challenger(
    uow_factory: UowFactory,
    clock: Clock,
    actor_id: int,
    treating: InEffect | None,
    version: str,
    effective_from: datetime,
    reason: str,
) -> RuleChange:
    """Proposes the challenger running now against a strategy (``treating``: the strategy as it
    treats cases now, None when no strategy has the name asked for) as its next champion version,
    labelled ``version``: the challenger's description and segments over the champion's
    portfolios. Refused NO_CHALLENGER when none runs; otherwise as ``proposeRuleChange`` (a label
    taken already is CHANGE_INVALID on ``version``)."""
    if treating is None:
        raise NoChallenger("no strategy of that name treats cases: nothing to promote", "strategy")
    if treating.challenger is None:
        raise NoChallenger(
            f"no challenger of {treating.champion.name} runs now: nothing to promote", "strategy"
        )
    payload = promotion_payload(treating.challenger, treating.champion, version)
    try:
        return await propose_rule_change(
            uow_factory,
            clock,
            actor_id,
            RuleSetKind.STRATEGY,
            treating.champion.name,
            payload,
            effective_from,
            reason,
        )
    except ChangeInvalid as error:
        if error.field == "payload.version":  # the label is the input's, not a payload's
            error.field = "version"
        raise
