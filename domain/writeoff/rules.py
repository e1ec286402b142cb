"""The rule of a manager's write-off (pure): allowed from the policy's stages (LEGAL) or at the
policy's days past due, each refusal naming the rule and the figures."""

from __future__ import annotations

from domain.cases.model import CaseStage
from domain.writeoff.errors import WriteOffNotAllowed
from domain.writeoff.policy import WriteOffPolicy

RULE = "WRITE_OFF_STAGE_OR_DPD"


def write_off_allowed(policy: WriteOffPolicy, stage: CaseStage, days_past_due: int) -> bool:
    """Whether the policy allows a manager's write-off of a case in ``stage`` at that DPD."""
    return stage in policy.from_stages or days_past_due >= policy.min_days_past_due


def check_write_off(policy: WriteOffPolicy, stage: CaseStage, days_past_due: int) -> None:
    """Raises WriteOffNotAllowed naming the rule when the policy does not allow it."""
    if write_off_allowed(policy, stage, days_past_due):
        return
    stages = " or ".join(sorted(str(s) for s in policy.from_stages)) or "no stage"
    raise WriteOffNotAllowed(
        f"{RULE}: a write-off needs stage {stages} or days past due of at least "
        f"{policy.min_days_past_due} (policy {policy.version}); the case is in stage {stage} "
        f"at {days_past_due} days past due",
        field="caseId",
    )
