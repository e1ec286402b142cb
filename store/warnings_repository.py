"""Warnings and external signals in a unit of work: a warning through its case's scope, its
steps written under its version, a signal stored and raised on the borrower's open cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import ConcurrencyConflict
from domain.warnings.model import EarlyWarning
from domain.warnings.ports import NewSignal, RaisedWarning
from domain.warnings.rules import WarningRules
from store import tables, warnings_queries

w = tables.warnings.c


class SqlWarningRepository:
    def __init__(
        self,
        session: AsyncSession,
        case_scope: ColumnElement[bool],
        borrower_scope: ColumnElement[bool],
    ) -> None:
        self.session = session
        self.case_scope = case_scope
        self.borrower_scope = borrower_scope

    async def get(self, warning_id: int) -> EarlyWarning | None:
        found = await warnings_queries.warnings_by_id(self.session, [warning_id], self.case_scope)
        return found[0]

    async def save(self, warning: EarlyWarning) -> None:
        stmt = (
            update(tables.warnings)
            .where(w.id == warning.id, w.version == warning.version)
            .values(
                status=warning.status.value,
                acknowledged_at=warning.acknowledged_at,
                acknowledged_by=warning.acknowledged_by,
                handled_at=warning.handled_at,
                handled_by=warning.handled_by,
                note=warning.note,
                version=warning.version + 1,
            )
        )
        result = await self.session.execute(stmt)
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(
                "the warning was changed by someone else; reload it and try again"
            )
        warning.version += 1

    async def borrower_id(self, borrower_id: int | None, external_id: str | None) -> int | None:
        b = tables.borrowers.c
        key = b.id == borrower_id if borrower_id is not None else b.external_id == external_id
        stmt = select(b.id).where(key, self.borrower_scope)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def add_signal(self, signal: NewSignal) -> int:
        stmt = tables.external_signals.insert().values(
            borrower_id=signal.borrower_id,
            kind=signal.kind,
            severity=signal.severity,
            details=signal.details,
            received_at=signal.received_at,
            posted_by=signal.posted_by,
            idempotency_key=signal.idempotency_key,
            request_digest=signal.request_digest,
        )
        inserted = await self.session.execute(stmt.returning(tables.external_signals.c.id))
        return int(inserted.scalar_one())

    async def raise_for_signal(
        self, signal_id: int, rules: WarningRules, at: datetime
    ) -> list[RaisedWarning]:
        conn = await self.session.connection()
        return await warnings_queries.raise_signal(conn, signal_id, rules, at, self.case_scope)
