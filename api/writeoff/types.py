"""GraphQL types of write-off work: the reason codes, the source, and a write-off as stored."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.common.types import Money
from domain.money import Money as DomainMoney
from domain.writeoff.policy import ReasonCode as DomainReasonCode
from domain.writeoff.policy import WriteOffSource as DomainWriteOffSource
from domain.writeoff.services import WriteOff as DomainWriteOff

strawberry.enum(
    DomainReasonCode,
    name="WriteOffReasonCode",
    description="Why a manager writes a debt off: UNCOLLECTIBLE (effort exhausted, no prospect "
    "of payment), DECEASED_NO_ESTATE, BANKRUPTCY, STATUTE_BARRED (the limitation period has "
    "run out), COST_EXCEEDS_RECOVERY, FRAUD (identity theft or first-party fraud), "
    "UNTRACEABLE (the borrower cannot be found after tracing).",
)
strawberry.enum(
    DomainWriteOffSource,
    name="WriteOffSource",
    description="Who wrote the debt off: CHARGE_OFF (the core's charge-off, from its feed) or "
    "MANAGER (writeOff).",
)
WriteOffReasonCode = DomainReasonCode
WriteOffSource = DomainWriteOffSource


@strawberry.type(
    description="A write-off: the case's debts written off, for the amount outstanding at the "
    "time. The case moves to stage WRITTEN_OFF and stays open: recovery continues."
)
class WriteOff:
    source: WriteOffSource
    reason_code: WriteOffReasonCode
    amount: Money = strawberry.field(description="What was outstanding when it was written off.")
    written_off_at: datetime
    policy_version: str | None = strawberry.field(
        description="The write-off policy version the decision was judged by (e.g. "
        "default@builtin, default@3)."
    )

    @classmethod
    def from_domain(cls, write_off: DomainWriteOff) -> WriteOff:
        return cls(
            source=write_off.source,
            reason_code=DomainReasonCode(write_off.reason_code),
            amount=Money.from_domain(DomainMoney(write_off.amount, write_off.currency)),
            written_off_at=write_off.written_off_at,
            policy_version=write_off.policy_version,
        )
