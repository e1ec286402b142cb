"""Notices in a unit of work (their delivery receipts): read through the caller's case scope,
locked for the change, written back only at the version read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import ConcurrencyConflict
from domain.notices.model import NoticeStatus
from domain.notices.receipts import Notice, Receipt
from store import tables

n, cs = tables.notices.c, tables.cases.c


class SqlNoticeRepository:
    def __init__(self, session: AsyncSession, case_scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = case_scope

    async def get(self, notice_id: int) -> Notice | None:
        stmt = (
            select(
                n.id,
                n.case_id,
                n.status,
                n.created_at,
                n.sent_at,
                n.delivered_at,
                n.failed_at,
                n.provider_ref,
                n.attempts,
                n.version,
            )
            .join(tables.cases, cs.id == n.case_id)
            .where(n.id == notice_id, self.scope)
            .with_for_update(of=tables.notices)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        return Notice(
            id=row.id,
            case_id=row.case_id,
            status=NoticeStatus(row.status),
            created_at=row.created_at,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
            failed_at=row.failed_at,
            provider_ref=row.provider_ref,
            attempts=row.attempts,
            version=row.version,
        )

    async def keep_receipt(
        self, receipt: Receipt, received_at: datetime, recorded_by: int | None
    ) -> None:
        await self.session.execute(
            insert(tables.notice_receipts).values(
                notice_id=receipt.notice_id,
                status=receipt.status.value,
                delivered_at=receipt.delivered_at,
                provider_ref=receipt.provider_ref,
                received_at=received_at,
                recorded_by=recorded_by,
            )
        )

    async def save(self, notice: Notice, previous_version: int) -> None:
        written = await self.session.execute(
            update(tables.notices)
            .where(n.id == notice.id, n.version == previous_version)
            .values(
                status=notice.status.value,
                delivered_at=notice.delivered_at,
                failed_at=notice.failed_at,
                provider_ref=notice.provider_ref,
                version=notice.version,
            )
            .returning(n.id)
        )
        if written.scalar_one_or_none() is None:
            raise ConcurrencyConflict("the notice was changed meanwhile; send the receipt again")
