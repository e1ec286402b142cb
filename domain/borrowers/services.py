"""Use case on a borrower's personal data: revealing one confidential value in clear."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from domain.borrowers import errors
from domain.borrowers.events import ConfidentialValueRevealed
from domain.borrowers.model import ConfidentialField, RevealReason
from domain.clock import Clock
from domain.errors import stated_reason
from domain.ports import UnitOfWork

REVEAL_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class RevealRequest:
    """Who wants which value of whom, and why."""

    actor_id: int
    borrower_id: int
    field: ConfidentialField
    reason: RevealReason
    reason_text: str


def check_reason(reason_text: str) -> str:
    """Returns the stated reason without surrounding blanks, or refuses an empty or long one."""
    return stated_reason(reason_text, "reasonText", "say why you need the value")


async def reveal_confidential(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    request: RevealRequest,
    *,
    may_reveal: bool,
    limit_per_hour: int,
) -> str:
    """Returns one clear value and records the reveal in the same transaction.

    Refused, in this order: a borrower the caller cannot see (as if absent), a field the
    caller's roles may not reveal (``may_reveal``, decided by the authorisation layer), a
    missing or over-long reason, and more than ``limit_per_hour`` reveals by the caller in the
    last hour. The count is taken with the caller's reveals serialised (the ledger locks), so
    concurrent reveals by one caller cannot pass the limit together."""
    async with uow_factory() as uow:
        borrower = await uow.borrowers.get(request.borrower_id)
        if borrower is None:
            raise errors.BorrowerNotFound("no such borrower", field="borrowerId")
        if not may_reveal:
            raise errors.RevealNotAllowed(
                f"your roles may not reveal {request.field.name}", field="field"
            )
        reason_text = check_reason(request.reason_text)
        now = clock.now()
        used, oldest = await uow.reveals.since(request.actor_id, now - REVEAL_WINDOW)
        if used >= limit_per_hour:
            free_at = (oldest or now) + REVEAL_WINDOW
            raise errors.RevealRateLimited(
                f"at most {limit_per_hour} reveals an hour",
                retry_after_seconds=max(1, math.ceil((free_at - now).total_seconds())),
            )
        uow.record(
            ConfidentialValueRevealed(
                borrower_id=request.borrower_id,
                at=now,
                actor_id=request.actor_id,
                field=request.field,
                reason=request.reason,
                reason_text=reason_text,
            )
        )
        await uow.commit()
        return borrower.value_of(request.field)
