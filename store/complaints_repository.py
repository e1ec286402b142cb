"""Complaints in a unit of work: read through the caller's case scope, locked for a change."""

from __future__ import annotations

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.complaints.model import Complaint
from store import tables
from store.protections_queries import complaint_of

cm, cs = tables.complaints.c, tables.cases.c


class SqlComplaintRepository:
    def __init__(self, session: AsyncSession, case_scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = case_scope

    async def get(self, complaint_id: int) -> Complaint | None:
        stmt = (
            select(tables.complaints)
            .join(tables.cases, cs.id == cm.case_id)
            .where(cm.id == complaint_id, self.scope)
            .with_for_update(of=tables.complaints)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return complaint_of(row) if row is not None else None

    async def add(self, complaint: Complaint) -> None:
        stmt = insert(tables.complaints).values(
            case_id=complaint.case_id,
            borrower_id=complaint.borrower_id,
            kind=complaint.kind.value,
            channel=complaint.channel.value,
            written=complaint.written,
            description=complaint.description,
            status=complaint.status.value,
            filed_at=complaint.filed_at,
            filed_by=complaint.filed_by,
            version=complaint.version,
        )
        inserted = (await self.session.execute(stmt.returning(cm.id))).scalar_one()
        complaint.id = int(inserted)

    async def save(self, complaint: Complaint) -> None:
        await self.session.execute(
            update(tables.complaints)
            .where(cm.id == complaint.id)
            .values(
                status=complaint.status.value,
                resolved_at=complaint.resolved_at,
                resolved_by=complaint.resolved_by,
                resolution=complaint.resolution,
                version=complaint.version,
            )
        )
