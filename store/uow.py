"""Repositories and the unit of work: the only place that commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from domain.agencies.model import Agency
from domain.cases.model import Case, CaseStatus
from domain.errors import ConcurrencyConflict
from domain.staff.model import Staff
from store import audit, tables

# Turns the domain events of a commit into audit records (and the chain key to sign them).
AuditHook = Callable[[list[Any]], tuple[bytes, list[audit.AuditRecord]]]


@dataclass(frozen=True)
class IdempotencyClaim:
    """The key a mutation was sent with; recorded with the change it made."""

    staff_id: int
    key: str
    operation: str
    at: datetime


class SqlCaseRepository:
    def __init__(self, session: AsyncSession, scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = scope
        self.seen: set[Case] = set()

    async def get(self, case_id: int) -> Case | None:
        stmt = select(Case).where(tables.cases.c.id == case_id, self.scope).with_for_update()
        case = (await self.session.execute(stmt)).scalar_one_or_none()
        if case is not None:
            self.seen.add(case)
        return case

    def add(self, case: Case) -> None:
        self.session.add(case)
        self.seen.add(case)

    async def count_open_assigned_to(self, staff_id: int) -> int:
        stmt = select(func.count()).where(
            tables.cases.c.assignee_id == staff_id,
            tables.cases.c.status != CaseStatus.CLOSED.value,
        )
        return int((await self.session.execute(stmt)).scalar_one())


class SqlStaffRepository:
    def __init__(self, session: AsyncSession, scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = scope
        self.seen: set[Staff] = set()

    async def get_by_login(self, login: str) -> Staff | None:
        # Locked so that two concurrent assignments cannot both pass the capacity check.
        stmt = select(Staff).where(tables.staff.c.login == login, self.scope).with_for_update()
        staff = (await self.session.execute(stmt)).scalar_one_or_none()
        if staff is not None:
            self.seen.add(staff)
        return staff

    async def get(self, staff_id: int) -> Staff | None:
        return await self.session.get(Staff, staff_id)


class SqlAgencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_name(self, name: str) -> Agency | None:
        stmt = select(Agency).where(tables.agencies.c.name == name)
        return (await self.session.execute(stmt)).scalar_one_or_none()


class SqlUnitOfWork:
    """One transaction: changes and the events recorded by the aggregates commit together."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        case_scope: ColumnElement[bool] | None = None,
        assignable_staff: ColumnElement[bool] | None = None,
        audit: AuditHook | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._idempotency = idempotency
        self._case_scope = true() if case_scope is None else case_scope
        self._staff_scope = true() if assignable_staff is None else assignable_staff

    async def __aenter__(self) -> SqlUnitOfWork:
        self.session = self._sessions()
        # SQLite: take the write lock up front (see store.db); other databases ignore it.
        await self.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        self.cases = SqlCaseRepository(self.session, self._case_scope)
        self.staff = SqlStaffRepository(self.session, self._staff_scope)
        self.agencies = SqlAgencyRepository(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()
        await self.session.close()

    async def commit(self) -> None:
        try:
            # Flush first: a stale version fails here, before anything else is written.
            await self.session.flush()
            events = [e for case in self.cases.seen for e in case.events]
            if events:
                await self.session.execute(
                    tables.case_events.insert(),
                    [
                        {
                            "case_id": e.case_id,
                            "at": e.at,
                            "actor_id": e.actor_id,
                            "name": e.name,
                            "data": e.data(),
                        }
                        for e in events
                    ],
                )
            if self._idempotency is not None:
                await self._claim(self._idempotency)
            if self._audit is not None:
                changes = [*events, *(e for s in self.staff.seen for e in s.events)]
                key, records = self._audit(changes)
                await audit.append(self.session, key, records)
            await self.session.commit()
        except IntegrityError:
            # Only the idempotency claim can collide here: the same key committed meanwhile.
            await self.session.rollback()
            raise ConcurrencyConflict(
                "a request with this idempotency key was just carried out; retry to get its result"
            ) from None
        except StaleDataError:
            await self.session.rollback()
            raise ConcurrencyConflict(
                "the case was changed by someone else; reload it and try again"
            ) from None
        for case in self.cases.seen:
            case.events.clear()
        for staff in self.staff.seen:
            staff.events.clear()

    async def _claim(self, claim: IdempotencyClaim) -> None:
        case_ids = [case.id for case in self.cases.seen]
        await self.session.execute(
            tables.idempotency_keys.insert().values(
                staff_id=claim.staff_id,
                key=claim.key,
                operation=claim.operation,
                case_id=case_ids[0] if len(case_ids) == 1 else None,
                created_at=claim.at,
            )
        )

    async def rollback(self) -> None:
        await self.session.rollback()
