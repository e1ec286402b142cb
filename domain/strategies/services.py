"""Use cases of strategies: promoting a running challenger, which proposes the champion with the
challenged segments replaced by the challenger's definition as the strategy's next champion
version through maker–checker. A second person's approval makes it the champion from its
start — and from then on the challenger no longer runs (its start is no longer later than the
champion's)."""

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
    labelled ``version``: the champion's portfolios and segments with the challenged ones
    replaced by the challenger's definition (``promotion_payload``). Refused NO_CHALLENGER when
    none runs; CHANGE_INVALID on ``strategy`` when the merge fails (a segment or step named
    twice, no challenged segment in the champion, or a check of the merged version); otherwise
    as ``proposeRuleChange`` (a label taken already is CHANGE_INVALID on ``version``)."""
    if treating is None:
        raise NoChallenger("no strategy of that name treats cases: nothing to promote", "strategy")
    if treating.challenger is None:
        raise NoChallenger(
            f"no challenger of {treating.champion.name} runs now: nothing to promote", "strategy"
        )
    payload = promotion_payload(treating.challenger, treating.champion, version)  # may refuse
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
        elif error.field is not None and error.field.startswith("payload"):
            # The rest of the payload is the merge of the strategy's champion and challenger
            # (e.g. a challenger's segment naming a portfolio the champion does not treat).
            error.field = "strategy"
        raise
