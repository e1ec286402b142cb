"""GraphQL types of complaint work: Complaint and its enums; ``Case.complaints`` loads here."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.types import Node
from api.context import Info
from domain.complaints.model import Complaint as DomainComplaint
from domain.complaints.model import ComplaintChannel as DomainComplaintChannel
from domain.complaints.model import ComplaintKind as DomainComplaintKind
from domain.complaints.model import ComplaintStatus as DomainComplaintStatus

if TYPE_CHECKING:
    from api.staff.types import Staff

strawberry.enum(
    DomainComplaintKind,
    name="ComplaintKind",
    description="COMPLAINT: about how collection is done; DISPUTE: about the debt itself. While "
    "one is open, outbound contact on the case is refused (rule OPEN_COMPLAINT or OPEN_DISPUTE).",
)
strawberry.enum(DomainComplaintChannel, name="ComplaintChannel", description="How it reached us.")
strawberry.enum(DomainComplaintStatus, name="ComplaintStatus")
ComplaintKind = DomainComplaintKind
ComplaintChannel = DomainComplaintChannel
ComplaintStatus = DomainComplaintStatus


@strawberry.type(
    description="A complaint or dispute about a case. While it is OPEN, outbound contact, "
    "escalation, agency placement and allocation of the case stop, and so does its collection "
    "clock (never its days past due)."
)
class Complaint(Node):
    kind: ComplaintKind
    channel: ComplaintChannel
    written: bool = strawberry.field(description="Made in writing (a letter, an e-mail, a form).")
    status: ComplaintStatus
    filed_at: datetime
    resolved_at: datetime | None
    days_to_resolve: int | None = strawberry.field(
        description="Calendar days from filing to resolution in the portfolio's time zone "
        "(null while open)."
    )
    _filed_by: strawberry.Private[int | None]
    _resolved_by: strawberry.Private[int | None]
    _description: strawberry.Private[str]
    _resolution: strawberry.Private[str | None]

    @strawberry.field(
        description="What the borrower complains of or disputes; null unless your role works "
        "cases (contact:make), as for contact notes."
    )
    def description(self, info: Info) -> str | None:
        return self._description if info.context.may_read_notes() else None

    @strawberry.field(
        description="How it was resolved; null while open, and unless your role works cases "
        "(contact:make)."
    )
    def resolution(self, info: Info) -> str | None:
        return self._resolution if info.context.may_read_notes() else None

    @strawberry.field(description="Who recorded it.")
    async def filed_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._filed_by)

    @strawberry.field(description="Who resolved it.")
    async def resolved_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._resolved_by)

    @classmethod
    def from_domain(cls, complaint: DomainComplaint, portfolio: str) -> Complaint:
        assert complaint.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Complaint", complaint.id)),
            kind=complaint.kind,
            channel=complaint.channel,
            written=complaint.written,
            status=complaint.status,
            filed_at=complaint.filed_at,
            resolved_at=complaint.resolved_at,
            _description=complaint.description,
            _resolution=complaint.resolution,
            days_to_resolve=complaint.days_to_resolve(portfolio),
            _filed_by=complaint.filed_by,
            _resolved_by=complaint.resolved_by,
        )


async def complaints_of_case(info: Info, case_id: int, portfolio: str) -> list[Complaint]:
    """Returns a case's complaints, newest first (one statement per batch of cases)."""
    found = await info.context.complaints_of_case.load(case_id)
    return [Complaint.from_domain(c, portfolio) for c in found]


async def complaint_node(info: Info, pk: int) -> Complaint | None:
    """Returns a complaint by id for ``node(id:)`` (None: none the viewer may see)."""
    found = await info.context.complaints.load(pk)
    if found is None:
        return None
    complaint, portfolio = found
    info.context.audit.saw_cases([complaint.case_id])
    return Complaint.from_domain(complaint, portfolio)
