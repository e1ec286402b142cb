"""The unit of work tells an idempotency clash from any other integrity error, and writes a
stand-alone audit entry through the same commit path as every change."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases.model import Case
from domain.errors import ConcurrencyConflict
from store import tables
from store.audit import AuditRecord, audit_key
from store.db import session_factory
from store.uow import IdempotencyClaim, SqlUnitOfWork
from tests.factories import Factory

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
KEY = audit_key("a-test-secret-that-is-long-enough-for-hmac")


async def _rows(engine: AsyncEngine) -> tuple[int, int]:
    factory = Factory(engine)
    staff = await factory.staff("uow.tester")
    borrower = await factory.borrower()
    return staff.id, borrower.id


def _case(borrower_id: int, reference: str, portfolio: str = "retail") -> Case:
    return Case(
        reference=reference,
        borrower_id=borrower_id,
        portfolio=portfolio,
        currency="CNY",
        opened_on=date(2026, 3, 1),
    )


async def test_a_key_committed_meanwhile_is_a_conflict_not_a_fault(migrated: AsyncEngine) -> None:
    staff_id, borrower_id = await _rows(migrated)
    sessions = session_factory(migrated)
    claim = IdempotencyClaim(staff_id, "key-1", "case.assign", NOW)
    async with SqlUnitOfWork(sessions, idempotency=claim) as uow:
        uow.cases.add(_case(borrower_id, "C-1"))
        await uow.commit()
    async with SqlUnitOfWork(sessions, idempotency=claim) as uow:
        uow.cases.add(_case(borrower_id, "C-2", "sme"))
        with pytest.raises(ConcurrencyConflict, match="idempotency key"):
            await uow.commit()
    async with migrated.connect() as conn:
        references = (await conn.execute(select(tables.cases.c.reference))).scalars().all()
    assert references == ["C-1"]  # the second change rolled back with its claim


async def test_another_integrity_error_with_a_key_is_not_reported_as_a_key_clash(
    migrated: AsyncEngine,
) -> None:
    staff_id, borrower_id = await _rows(migrated)
    sessions = session_factory(migrated)
    async with SqlUnitOfWork(sessions) as uow:
        uow.cases.add(_case(borrower_id, "C-1"))
        await uow.commit()
    claim = IdempotencyClaim(staff_id, "fresh-key", "case.assign", NOW)
    async with SqlUnitOfWork(sessions, idempotency=claim) as uow:
        uow.cases.add(_case(borrower_id, "C-1", "sme"))  # the reference is unique
        with pytest.raises(IntegrityError):
            await uow.commit()
    async with migrated.connect() as conn:
        keys = await conn.execute(select(func.count()).select_from(tables.idempotency_keys))
        assert keys.scalar_one() == 0


async def test_a_stand_alone_audit_entry_commits_through_the_unit_of_work(
    migrated: AsyncEngine,
) -> None:
    sessions = session_factory(migrated)
    record = AuditRecord(at=NOW, action="request.refused", outcome="DENIED", request_id="r-1")
    async with SqlUnitOfWork(sessions) as uow:
        uow.append_audit(KEY, record)
        await uow.commit()
    async with SqlUnitOfWork(sessions) as uow:
        uow.append_audit(KEY, record)
        # Leaving without commit rolls back: the entry is written once.
    async with migrated.connect() as conn:
        rows = (await conn.execute(select(tables.audit_entries.c.action))).scalars().all()
    assert rows == ["request.refused"]
