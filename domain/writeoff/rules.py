"""The rules of a manager's write-off (pure): allowed from the policy's stages (LEGAL) or at the
policy's days past due, and never while work on the case waits for its end (a restructuring
proposed or in effect, a legal referral awaiting its decision); each refusal names the rule and
what it found."""

from __future__ import annotations

from dataclasses import dataclass

from domain.cases.model import CaseStage
from domain.legal.errors import ReferralPending
from domain.restructuring.errors import RestructuringPending
from domain.writeoff.errors import WriteOffNotAllowed
from domain.writeoff.policy import WriteOffPolicy

RULE = "WRITE_OFF_STAGE_OR_DPD"
PENDING_RULE = "WRITE_OFF_NO_PENDING_WORK"


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


@dataclass(frozen=True)
class PendingWork:
    """What on a case waits for an end: its PROPOSED or ACTIVE restructurings as (kind,
    status), and whether a legal referral of it awaits its decision."""

    restructurings: tuple[tuple[str, str], ...] = ()
    referral_pending: bool = False


def check_no_pending_work(reference: str, pending: PendingWork) -> None:
    """Refuses a manager's write-off while a restructuring is PROPOSED (RESTRUCTURING_PENDING:
    reject it first) or ACTIVE (a plan or settlement in effect: it ends, paid or broken, first),
    or a legal referral is PENDING (REFERRAL_PENDING: approve or reject it first). A write-off
    would otherwise report as lost what the borrower is still paying under an agreement, and
    leave a referral that could never be approved (the case is no longer referable)."""
    for kind, status in pending.restructurings:
        then = (
            "reject it before writing the case off"
            if status == "PROPOSED"
            else "it ends (paid in full or broken) before the case is written off"
        )
        raise RestructuringPending(
            f"{PENDING_RULE}: the {kind} of case {reference} is {status}: {then}", field="caseId"
        )
    if pending.referral_pending:
        raise ReferralPending(
            f"{PENDING_RULE}: case {reference} has a legal referral awaiting its decision: "
            "approve or reject it before writing the case off",
            field="caseId",
        )
