"""The unit of work tells an idempotency clash from any other integrity error, writes a
stand-alone audit entry through the same commit path as every change, and what one commit records
in one batch."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.cases.model import Case
from domain.errors import ConcurrencyConflict
from store import tables
from store.audit import AuditRecord, audit_key, verify
from store.db import session_factory, watch_commits
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


async def test_what_a_commit_records_goes_in_as_one_batch(migrated: AsyncEngine) -> None:
    # The records of its changes (the audit hook's) and ready-made ones: one chain, one INSERT.
    sessions = session_factory(migrated)
    made = AuditRecord(at=NOW, action="evidence.generate", outcome="ALLOWED", request_id="r-2")
    hooked = AuditRecord(at=NOW, action="case.assign", outcome="ALLOWED", request_id="r-2")
    inserts: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().startswith(("INSERT INTO audit_entries", "WITH")):
            inserts.append(statement)

    event.listen(migrated.sync_engine, "before_cursor_execute", note)
    try:
        async with SqlUnitOfWork(sessions, audit=lambda _events: (KEY, [hooked])) as uow:
            uow.append_audit(KEY, made)
            await uow.commit()
    finally:
        event.remove(migrated.sync_engine, "before_cursor_execute", note)
    assert len(inserts) == 1
    e = tables.audit_entries.c
    async with migrated.connect() as conn:
        rows = (await conn.execute(select(e.action, e.chain, e.seq).order_by(e.id))).all()
        assert await verify(conn, KEY) == (2, [])
    assert [(r.action, r.seq) for r in rows] == [("case.assign", 1), ("evidence.generate", 2)]
    assert rows[0].chain == rows[1].chain


async def test_a_unit_that_only_records_is_not_a_saved_change(migrated: AsyncEngine) -> None:
    sessions = session_factory(migrated)
    record = AuditRecord(at=NOW, action="request.refused", outcome="DENIED", request_id="r-3")
    commits = watch_commits()
    async with SqlUnitOfWork(sessions, records_only=True) as uow:
        uow.append_audit(KEY, record, record)
        await uow.commit()
    assert commits.count == 0
    async with SqlUnitOfWork(sessions) as uow:
        uow.append_audit(KEY, record)
        await uow.commit()
    assert commits.count == 1  # the same entry, committed by a unit that may change things
    async with migrated.connect() as conn:
        assert await verify(conn, KEY) == (3, [])
