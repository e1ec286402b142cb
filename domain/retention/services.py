"""Use cases of legal holds: placeLegalHold and releaseLegalHold, each one unit of work.

The case must be in the caller's scope (CASE_NOT_FOUND otherwise, exactly as one that does not
exist). A case has at most one hold in force (LEGAL_HOLD_EXISTS); a released hold stays released
(LEGAL_HOLD_RELEASED). The case's row lock serialises two requests on the same case."""

from __future__ import annotations

from collections.abc import Callable

from domain.cases.errors import CaseNotFound
from domain.clock import Clock
from domain.errors import stated_reason
from domain.retention.errors import LegalHoldExists, LegalHoldNotFound
from domain.retention.events import LegalHoldPlaced, LegalHoldReleased
from domain.retention.model import LegalHold
from domain.retention.ports import LegalHoldsUnitOfWork

UowFactory = Callable[[], LegalHoldsUnitOfWork]


async def place_legal_hold(
    uow_factory: UowFactory, clock: Clock, actor_id: int | None, case_id: int, reason: str
) -> LegalHold:
    """Places a legal hold on a case the caller may see, with a stated reason."""
    text = stated_reason(reason, "reason", "say why the case's records must be kept")
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        if await uow.legal_holds.in_force(case.id) is not None:
            raise LegalHoldExists("the case is already on legal hold", field="caseId")
        now = clock.now()
        hold = LegalHold(case.id, text, now, actor_id)
        await uow.legal_holds.add(hold)
        assert hold.id is not None
        case.events.append(LegalHoldPlaced(case.id, now, actor_id, hold.id, text))
        await uow.commit()
        return hold


async def release_legal_hold(
    uow_factory: UowFactory,
    clock: Clock,
    actor_id: int | None,
    reason: str,
    *,
    hold_id: int | None = None,
    case_id: int | None = None,
) -> LegalHold:
    """Releases a hold by its id, or the hold in force on a case, with a stated reason."""
    text = stated_reason(reason, "reason", "say why the hold ends")
    async with uow_factory() as uow:
        if hold_id is not None:
            found = await uow.legal_holds.get(hold_id)
            case = await uow.cases.get(found.case_id) if found is not None else None
            # Read again under the case's lock (every hold change takes it first).
            hold = await uow.legal_holds.get(hold_id) if case is not None else None
            if hold is None or case is None:
                raise LegalHoldNotFound("no such legal hold", field="holdId")
        else:
            assert case_id is not None
            case = await uow.cases.get(case_id)
            if case is None or case.id is None:
                raise CaseNotFound("no such case", field="caseId")
            hold = await uow.legal_holds.in_force(case.id)
            if hold is None:
                raise LegalHoldNotFound("the case has no legal hold in force", field="caseId")
        assert case.id is not None and hold.id is not None
        now = clock.now()
        hold.release(now, actor_id)
        await uow.legal_holds.save(hold)
        case.events.append(LegalHoldReleased(case.id, now, actor_id, hold.id, text))
        await uow.commit()
        return hold
