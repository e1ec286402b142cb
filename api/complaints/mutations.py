"""fileComplaint and resolveComplaint: parse input → call the complaints service → map."""

from __future__ import annotations

from typing import Annotated

import strawberry

from api.cases.types import Case
from api.common.ids import pk_of
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
)
from api.complaints.types import Complaint, ComplaintChannel, ComplaintKind
from api.context import Context, Info
from api.permissions import needs
from domain.cases.errors import CaseNotFound
from domain.complaints import services
from domain.complaints.errors import ComplaintNotFound
from domain.complaints.model import MAX_TEXT
from domain.errors import DomainError
from store.audit import AuditAction


@strawberry.input
class FileComplaintInput:
    case_id: strawberry.ID
    kind: ComplaintKind
    channel: ComplaintChannel
    written: bool = strawberry.field(description="Made in writing (a letter, an e-mail, a form).")
    description: str = strawberry.field(
        description=f"What the borrower complains about or disputes (not empty, at most "
        f"{MAX_TEXT} characters)."
    )


@strawberry.input
class ResolveComplaintInput:
    complaint_id: strawberry.ID
    resolution: str = strawberry.field(
        description=f"How it was resolved (not empty, at most {MAX_TEXT} characters)."
    )


@strawberry.type
class FileComplaintSuccess:
    complaint: Complaint
    case: Case


@strawberry.type
class ResolveComplaintSuccess:
    complaint: Complaint
    case: Case


UserErrors = ValidationError | NotFoundError | RuleViolationError | ConflictError
FileComplaintPayload = Annotated[
    FileComplaintSuccess | UserErrors, strawberry.union("FileComplaintPayload")
]
ResolveComplaintPayload = Annotated[
    ResolveComplaintSuccess | UserErrors, strawberry.union("ResolveComplaintPayload")
]


async def _case(ctx: Context, case_id: int) -> Case:
    case = await ctx.cases.load(case_id)
    assert case is not None  # the case of a complaint just changed is in the caller's scope
    ctx.audit.saw_cases([case_id])
    return Case.from_domain(case)


@strawberry.type
class ComplaintMutation:
    @strawberry.mutation(
        description="Files a complaint or dispute on a case you can see. While it is open, "
        "outbound contact on the case is refused (rule OPEN_COMPLAINT or OPEN_DISPUTE), and "
        "escalation, agency placement and allocation stop; inbound contact stays allowed.",
        extensions=needs("complaint:file"),
    )
    async def file_complaint(self, info: Info, input: FileComplaintInput) -> FileComplaintPayload:
        ctx = info.context
        case_pk = pk_of(input.case_id, "Case")
        try:
            if case_pk is None:
                raise CaseNotFound("no such case", field="caseId")
            request = services.ComplaintRequest(
                case_pk, input.kind, input.channel, input.written, input.description
            )
            await ctx.release()
            complaint = await services.file_complaint(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, request
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.COMPLAINT_FILE, error, "Case", case_pk)
        case = await _case(ctx, complaint.case_id)
        return FileComplaintSuccess(
            complaint=Complaint.from_domain(complaint, case.portfolio), case=case
        )

    @strawberry.mutation(
        description="Resolves an open complaint or dispute (once): the case's collection "
        "resumes, and the days it took are kept.",
        extensions=needs("complaint:resolve"),
    )
    async def resolve_complaint(
        self, info: Info, input: ResolveComplaintInput
    ) -> ResolveComplaintPayload:
        ctx = info.context
        pk = pk_of(input.complaint_id, "Complaint")
        try:
            if pk is None:
                raise ComplaintNotFound("no such complaint", field="complaintId")
            await ctx.release()
            complaint, portfolio = await services.resolve_complaint(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, pk, input.resolution
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.COMPLAINT_RESOLVE, error, "Complaint", pk)
        return ResolveComplaintSuccess(
            complaint=Complaint.from_domain(complaint, portfolio),
            case=await _case(ctx, complaint.case_id),
        )
