"""Use cases on collection cases: each runs in one unit of work and commits once.

Whether the case may be assigned, placed or recalled at all is the life cycle's decision
(``domain.lifecycle.table.ensure_allowed``), asked before the aggregate applies its own rules
(the collector's and the agency's)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from domain.cases import errors
from domain.cases.model import Case
from domain.clock import Clock
from domain.errors import ConcurrencyConflict
from domain.lifecycle.moves import facts_of, move, standing_of
from domain.lifecycle.table import Action, HoldReason, Standing, Trigger, ensure_allowed
from domain.portfolios import local_today
from domain.ports import UnitOfWork


async def _standing(uow: UnitOfWork, case: Case) -> Standing:
    """The case's standing with the protections in force on it (complaints, flags)."""
    assert case.id is not None
    protection = await uow.protections.of_case(case.id, case.borrower_id)
    return protection.protect(standing_of(case))


async def _load_case(uow: UnitOfWork, case_id: int, expected_version: int | None) -> Case:
    case = await uow.cases.get(case_id)
    if case is None:
        raise errors.CaseNotFound("no such case", field="caseId")
    if expected_version is not None and case.version != expected_version:
        raise ConcurrencyConflict(
            f"case {case.reference} is at version {case.version}, not {expected_version}",
            field="expectedVersion",
        )
    return case


async def assign_case(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    case_id: int,
    assignee_login: str,
    actor_id: int | None,
    expected_version: int | None = None,
) -> Case:
    """Assigns a case to an active internal collector within their capacity."""
    async with uow_factory() as uow:
        collector = await uow.staff.get_by_login(assignee_login)
        if collector is None or collector.id is None:
            raise errors.StaffNotFound(f"no staff member {assignee_login!r}", field="assigneeLogin")
        case = await _load_case(uow, case_id, expected_version)
        ensure_allowed(await _standing(uow, case), Action.ASSIGN, case.reference)
        open_cases = await uow.cases.count_open_assigned_to(collector.id)
        case.assign(collector, open_cases, clock.now(), actor_id)
        await uow.commit()
        return case


async def place_with_agency(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    case_id: int,
    agency_name: str,
    actor_id: int | None,
    expected_version: int | None = None,
    until: date | None = None,
) -> Case:
    """Places a case with an active partner agency, until a date or for its contract's period."""
    async with uow_factory() as uow:
        agency = await uow.agencies.get_by_name(agency_name)
        if agency is None:
            raise errors.AgencyNotFound(f"no agency {agency_name!r}", field="agencyName")
        case = await _load_case(uow, case_id, expected_version)
        ensure_allowed(await _standing(uow, case), Action.PLACE, case.reference)
        case.place_with(agency, clock.now(), actor_id, until)
        await uow.commit()
        return case


async def recall_from_agency(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    case_id: int,
    actor_id: int | None,
    expected_version: int | None = None,
) -> Case:
    """Recalls a case from its agency into the unassigned pool."""
    async with uow_factory() as uow:
        case = await _load_case(uow, case_id, expected_version)
        ensure_allowed(await _standing(uow, case), Action.RECALL, case.reference)
        case.recall(clock.now(), actor_id)
        await uow.commit()
        return case


async def hold_case(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    case_id: int,
    reason: HoldReason,
    actor_id: int | None,
    expected_version: int | None = None,
) -> Case:
    """Pauses collection on an open case (the life cycle's HOLD): nobody contacts, places,
    allocates or escalates it until it is resumed. The reason code is kept on the move."""
    return await _move(
        uow_factory, clock, case_id, Trigger.HOLD, actor_id, expected_version, reason
    )


async def resume_case(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    case_id: int,
    actor_id: int | None,
    expected_version: int | None = None,
) -> Case:
    """Lifts the pause on a case on hold (the life cycle's RESUME)."""
    return await _move(uow_factory, clock, case_id, Trigger.RESUME, actor_id, expected_version)


async def _move(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    case_id: int,
    trigger: Trigger,
    actor_id: int | None,
    expected_version: int | None,
    hold_reason: HoldReason | None = None,
) -> Case:
    """A move of the life cycle a person asks for, judged by the table as of the portfolio's
    today (ILLEGAL_TRANSITION where it does not allow it)."""
    async with uow_factory() as uow:
        case = await _load_case(uow, case_id, expected_version)
        now = clock.now()
        facts = facts_of(case, local_today(case.portfolio, now))
        move(case, trigger, facts, now, actor_id, hold_reason=hold_reason)
        await uow.commit()
        return case
