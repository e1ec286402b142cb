"""Use cases of complaint work: fileComplaint and resolveComplaint, each one unit of work.

Filing needs the case in the caller's scope (CASE_NOT_FOUND otherwise); a closed case may
still be complained about. The events are the case's own (``ComplaintFiled``,
``ComplaintResolved``): the timeline, the audit entry and the decisions feed read them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from domain.cases.errors import CaseNotFound
from domain.clock import Clock
from domain.complaints.errors import ComplaintNotFound
from domain.complaints.events import ComplaintFiled, ComplaintResolved
from domain.complaints.model import Complaint, ComplaintChannel, ComplaintKind, check_text
from domain.complaints.ports import ComplaintsUnitOfWork

UowFactory = Callable[[], ComplaintsUnitOfWork]


@dataclass(frozen=True)
class ComplaintRequest:
    case_id: int
    kind: ComplaintKind
    channel: ComplaintChannel
    written: bool
    description: str


async def file_complaint(
    uow_factory: UowFactory, clock: Clock, actor_id: int | None, request: ComplaintRequest
) -> Complaint:
    """Files a complaint or dispute on a case the caller may see; it stays open until resolved."""
    description = check_text(request.description, "description", what="a description")
    async with uow_factory() as uow:
        case = await uow.cases.get(request.case_id)
        if case is None or case.id is None:
            raise CaseNotFound("no such case", field="caseId")
        now = clock.now()
        complaint = Complaint(
            case_id=case.id,
            borrower_id=case.borrower_id,
            kind=request.kind,
            channel=request.channel,
            written=request.written,
            description=description,
            filed_at=now,
            filed_by=actor_id,
        )
        await uow.complaints.add(complaint)
        assert complaint.id is not None
        case.events.append(
            ComplaintFiled(
                case.id,
                now,
                actor_id,
                complaint.id,
                request.kind.value,
                request.channel.value,
                request.written,
            )
        )
        await uow.commit()
        return complaint


async def resolve_complaint(
    uow_factory: UowFactory,
    clock: Clock,
    actor_id: int | None,
    complaint_id: int,
    resolution: str,
) -> tuple[Complaint, str]:
    """Resolves an open complaint on a case the caller may see; returns it with its case's
    portfolio (whose calendar counts the days it took)."""
    async with uow_factory() as uow:
        complaint = await uow.complaints.get(complaint_id)
        case = await uow.cases.get(complaint.case_id) if complaint is not None else None
        if complaint is None or complaint.id is None or case is None or case.id is None:
            raise ComplaintNotFound("no such complaint", field="complaintId")
        now = clock.now()
        complaint.resolve(resolution, now, actor_id)
        await uow.complaints.save(complaint)
        days = complaint.days_to_resolve(case.portfolio)
        assert days is not None
        case.events.append(
            ComplaintResolved(
                case.id, now, actor_id, complaint.id, complaint.kind.value, complaint.filed_at, days
            )
        )
        await uow.commit()
        return complaint, case.portfolio
