"""Use cases of write-off work, each one unit of work: ``write_off`` (a manager's decision, by
the policy in effect) and ``mark_debt_sold`` (a written-off case closed as DEBT_SOLD).

A write-off moves the case by the life-cycle table (``Trigger.WRITE_OFF``: stage WRITTEN_OFF,
the status stays: recovery continues), marks its debts WRITTEN_OFF, stores the write-off with
the amount outstanding at the time, and records ``CaseWrittenOff`` (decision CASE_WRITTEN_OFF)
and ``ChargeOffRequested`` (decision CHARGE_OFF_REQUESTED: the core is asked to book it). The
audit entry carries the reason (``WriteOffDecided``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Protocol

from domain.cases.errors import CaseNotFound
from domain.cases.model import Case, CaseStage, CaseStatus
from domain.clock import Clock
from domain.debts.ageing import debt_days_past_due
from domain.debts.model import DebtStatus
from domain.errors import InvalidInput, stated_reason
from domain.lifecycle.moves import facts_of, move
from domain.lifecycle.table import CloseReason, IllegalTransition, Trigger, decide
from domain.money import total
from domain.portfolios import local_today
from domain.ports import CaseRepository
from domain.writeoff.events import CaseWrittenOff, ChargeOffRequested, WriteOffDecided
from domain.writeoff.policy import ReasonCode, WriteOffPolicy, WriteOffSource
from domain.writeoff.rules import PendingWork, check_no_pending_work, check_write_off

# Debts that are no longer owed here are not written off (nor counted in the amount).
_FINISHED = frozenset({DebtStatus.SETTLED, DebtStatus.CLOSED, DebtStatus.WRITTEN_OFF})


@dataclass(frozen=True)
class WriteOff:
    """A stored write-off: the case's debts written off, by whom, why and for how much."""

    case_id: int
    source: WriteOffSource
    reason_code: str
    amount: Decimal
    currency: str
    written_off_at: datetime
    reason_text: str | None = None
    written_off_by: int | None = None
    charge_off_id: int | None = None
    policy_version: str | None = None
    id: int | None = None


class WriteOffRepository(Protocol):
    async def policy(self, at: datetime) -> WriteOffPolicy:
        """Returns the write-off policy in effect at ``at`` (the checked-in default if none)."""
        ...

    async def add(self, write_off: WriteOff) -> int:
        """Stores a write-off; returns its id."""
        ...

    async def pending_work(self, case_id: int) -> PendingWork:
        """Returns the case's PROPOSED and ACTIVE restructurings and whether a legal referral of
        it is PENDING (read after the case is locked)."""
        ...


class WriteOffUnitOfWork(Protocol):
    @property
    def cases(self) -> CaseRepository: ...

    @property
    def write_offs(self) -> WriteOffRepository: ...

    def record(self, event: object) -> None: ...

    async def commit(self) -> None: ...

    async def __aenter__(self) -> WriteOffUnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


UowFactory = Callable[[], WriteOffUnitOfWork]


@dataclass(frozen=True)
class WriteOffRequest:
    case_id: int
    reason_code: str
    reason_text: str


@dataclass(frozen=True)
class WriteOffResult:
    case: Case
    write_off: WriteOff


def parse_reason_code(value: str) -> ReasonCode:
    """Returns the reason code, or refuses one that is not in the list (field reasonCode)."""
    try:
        return ReasonCode(value)
    except ValueError:
        raise InvalidInput(
            f"reasonCode must be one of {', '.join(ReasonCode)}", field="reasonCode"
        ) from None


async def write_off(
    uow_factory: UowFactory, clock: Clock, actor_id: int | None, request: WriteOffRequest
) -> WriteOffResult:
    """Writes off a case the caller may see: refused with ILLEGAL_TRANSITION where the
    life-cycle table forbids it (closed, already written off), then WRITE_OFF_NOT_ALLOWED where
    the policy in effect does not allow it (not LEGAL and DPD below its threshold), then
    RESTRUCTURING_PENDING or REFERRAL_PENDING while a restructuring is proposed or in effect or
    a legal referral awaits its decision (``rules.check_no_pending_work``)."""
    code = parse_reason_code(request.reason_code)
    text = stated_reason(request.reason_text, "reasonText", "say why the debt is written off")
    now = clock.now()
    async with uow_factory() as uow:
        case = await uow.cases.get_with_debts(request.case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        today = local_today(case.portfolio, now)
        facts = facts_of(case, today)
        if CaseStatus(case.status) is CaseStatus.CLOSED:
            # The table writes off a closed case for the core's charge-off only.
            raise IllegalTransition(
                f"a manager writes off an open or on-hold case: case {case.reference} is "
                f"closed ({case.close_reason})",
                field="caseId",
            )
        try:
            decide(CaseStatus(case.status), CaseStage(case.stage), Trigger.WRITE_OFF, facts)
        except IllegalTransition as refusal:
            raise IllegalTransition(refusal.message, field="caseId") from None
        days_past_due = max((debt_days_past_due(d, today) for d in case.debts), default=0)
        policy = await uow.write_offs.policy(now)
        check_write_off(policy, CaseStage(case.stage), days_past_due)
        check_no_pending_work(case.reference, await uow.write_offs.pending_work(case.id))
        debts = [d for d in case.debts if DebtStatus(d.status) not in _FINISHED]
        owed = total([d.outstanding for d in debts], case.currency).rounded()
        amount = owed.amount
        from_stage = str(case.stage)
        move(case, Trigger.WRITE_OFF, facts, now, actor_id)
        for debt in debts:
            debt.status = DebtStatus.WRITTEN_OFF
        record = WriteOff(
            case_id=case.id,
            source=WriteOffSource.MANAGER,
            reason_code=code.value,
            amount=amount,
            currency=case.currency,
            written_off_at=now,
            reason_text=text,
            written_off_by=actor_id,
            policy_version=policy.version,
        )
        write_off_id = await uow.write_offs.add(record)
        figure = str(amount)
        case.events.append(
            CaseWrittenOff(
                case.id,
                now,
                actor_id,
                WriteOffSource.MANAGER.value,
                code.value,
                figure,
                case.currency,
                policy.version,
                None,
            )
        )
        case.events.append(
            ChargeOffRequested(case.id, now, actor_id, code.value, figure, case.currency)
        )
        uow.record(
            WriteOffDecided(
                case.id,
                now,
                actor_id,
                "WRITE_OFF",
                code.value,
                text,
                {
                    "writeOffId": write_off_id,
                    "fromStage": from_stage,
                    "amount": figure,
                    "currency": case.currency,
                    "daysPastDue": days_past_due,
                    "policyVersion": policy.version,
                },
            )
        )
        await uow.commit()
        stored = replace(record, id=write_off_id)
        return WriteOffResult(case, stored)


async def mark_debt_sold(
    uow_factory: UowFactory, clock: Clock, actor_id: int | None, case_id: int, reason_text: str
) -> Case:
    """Closes a written-off case as DEBT_SOLD (the debt was sold to a buyer): only a case in
    stage WRITTEN_OFF, open or on hold (ILLEGAL_TRANSITION otherwise). Its debts stay
    WRITTEN_OFF; a placement with an agency is recalled (CaseRecalled, as a recall by hand);
    the closure goes out on the decisions feed as CASE_CLOSED (DEBT_SOLD)."""
    text = stated_reason(reason_text, "reasonText", "say to whom and why the debt was sold")
    now = clock.now()
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        if CaseStage(case.stage) is not CaseStage.WRITTEN_OFF:
            raise IllegalTransition(
                f"a debt is sold only once written off: the case is in stage {case.stage}",
                field="caseId",
            )
        facts = facts_of(case, local_today(case.portfolio, now))
        agency_id = case.agency_id
        try:
            move(case, Trigger.CLOSE, facts, now, actor_id, reason=CloseReason.DEBT_SOLD)
        except IllegalTransition as refusal:
            raise IllegalTransition(refusal.message, field="caseId") from None
        if agency_id is not None:
            case.recall(now, actor_id)  # the buyer collects now, no longer the agency
        uow.record(
            WriteOffDecided(
                case.id,
                now,
                actor_id,
                "DEBT_SOLD",
                None,
                text,
                {"closeReason": CloseReason.DEBT_SOLD.value, "stage": str(case.stage)},
            )
        )
        await uow.commit()
        return case
