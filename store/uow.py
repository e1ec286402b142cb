"""Repositories and the unit of work: the only place that commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import ColumnElement, Index, UniqueConstraint, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from domain.agencies.model import Agency
from domain.borrowers.model import Borrower
from domain.cases.events import CaseEvent
from domain.cases.model import Case, CaseStatus
from domain.debts.model import Debt
from domain.decisions import is_decision
from domain.errors import ConcurrencyConflict
from domain.staff.model import Staff
from store import audit, decisions, tables
from store.audit import AuditRecord
from store.changes_queries import SqlRuleSetReader
from store.changes_repository import SqlChangeRepository
from store.complaints_repository import SqlComplaintRepository
from store.contacts_repository import SqlContactPointRepository, SqlContactRepository
from store.db import RECORDS_ONLY
from store.flags_repository import SqlFlagRepository
from store.legal_holds_repository import SqlLegalHoldRepository
from store.legal_repository import SqlLegalRepository
from store.notices_repository import SqlNoticeRepository
from store.payment_repository import SqlPaymentRepository
from store.plan_repository import SqlPlanRepository
from store.promise_repository import SqlPromiseRepository
from store.protections_queries import SqlProtectionReader
from store.restructuring_repository import SqlRestructuringRepository
from store.tasks_repository import SqlTaskRepository
from store.warnings_repository import SqlWarningRepository
from store.writeoff_queries import SqlWriteOffRepository

# The one constraint a retried mutation can collide with: one key per caller.
IDEMPOTENCY_UNIQUE = next(
    c for c in tables.idempotency_keys.constraints if isinstance(c, UniqueConstraint)
)


def is_violation_of(error: IntegrityError, unique: UniqueConstraint | Index) -> bool:
    """Returns whether an integrity error is a violation of this unique constraint (or unique
    index, partial ones included).

    PostgreSQL names the constraint (or index); SQLite names its columns instead."""
    original = error.orig
    cause = getattr(original, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(original, "constraint_name", None)
    if name is not None:
        return bool(name == unique.name)
    columns = ", ".join(f"{column.table.name}.{column.name}" for column in unique.columns)
    return f"UNIQUE constraint failed: {columns}" in str(original)


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

    async def get_with_debts(self, case_id: int) -> Case | None:
        # Locked first (FOR UPDATE on the case row); the debts and schedules load after it,
        # so they are what the previous holder of the lock committed.
        stmt = (
            select(Case)
            .where(tables.cases.c.id == case_id, self.scope)
            .options(selectinload(Case.debts).selectinload(Debt.instalments))  # type: ignore[arg-type]
            .execution_options(populate_existing=True)
            .with_for_update(of=tables.cases)
        )
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


class SqlBorrowerRepository:
    def __init__(self, session: AsyncSession, scope: ColumnElement[bool]) -> None:
        self.session = session
        self.scope = scope

    async def get(self, borrower_id: int) -> Borrower | None:
        stmt = select(Borrower).where(tables.borrowers.c.id == borrower_id, self.scope)
        return (await self.session.execute(stmt)).scalar_one_or_none()


class SqlRevealLedger:
    """Counts reveals in the audit trail, where every reveal is recorded as it happens."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def since(self, actor_id: int, since: datetime) -> tuple[int, datetime | None]:
        # The staff row stays locked (SQLite: the write lock) until the reveal commits, so
        # one caller's concurrent reveals are counted one after the other.
        s = tables.staff.c
        await self.session.execute(select(s.id).where(s.id == actor_id).with_for_update())
        a = tables.audit_entries.c
        stmt = select(func.count(), func.min(a.at)).where(
            a.actor_id == actor_id,
            a.action == audit.REVEAL_ACTION,
            a.outcome == audit.Outcome.ALLOWED.value,
            a.at >= since,
        )
        count, oldest = (await self.session.execute(stmt)).one()
        return int(count), oldest


class SqlUnitOfWork:
    """One transaction: changes and the events recorded by the aggregates commit together."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        case_scope: ColumnElement[bool] | None = None,
        assignable_staff: ColumnElement[bool] | None = None,
        borrower_scope: ColumnElement[bool] | None = None,
        audit: AuditHook | None = None,
        idempotency: IdempotencyClaim | None = None,
        *,
        records_only: bool = False,
    ) -> None:
        self._sessions = sessions
        self._audit = audit
        self._records_only = records_only
        self._idempotency = idempotency
        self._case_scope = true() if case_scope is None else case_scope
        self._staff_scope = true() if assignable_staff is None else assignable_staff
        self._borrower_scope = true() if borrower_scope is None else borrower_scope
        self._recorded: list[Any] = []
        self._audit_records: list[AuditRecord] = []
        self._audit_key: bytes | None = None
        self._decision_events: list[int] = []  # ids of written case events that are decisions

    async def __aenter__(self) -> SqlUnitOfWork:
        self.session = self._sessions()
        if self._records_only:
            # Changes nothing, so it does not count as a saved change (store.db.watch_commits);
            # its write lock is taken at commit, once its entries are ready (``_commit_records``).
            self.session.info[RECORDS_ONLY] = True
        else:
            # SQLite: take the write lock up front (see store.db); other databases ignore it.
            await self.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        self.cases = SqlCaseRepository(self.session, self._case_scope)
        self.staff = SqlStaffRepository(self.session, self._staff_scope)
        self.agencies = SqlAgencyRepository(self.session)
        self.borrowers = SqlBorrowerRepository(self.session, self._borrower_scope)
        self.reveals = SqlRevealLedger(self.session)
        self.contact_points = SqlContactPointRepository(self.session, self._borrower_scope)
        self.contacts = SqlContactRepository(self.session, self._case_scope)
        self.payments = SqlPaymentRepository(self.session, self._case_scope)
        self.promises = SqlPromiseRepository(self.session)
        self.plans = SqlPlanRepository(self.session)
        self.complaints = SqlComplaintRepository(self.session, self._case_scope)
        self.restructurings = SqlRestructuringRepository(self.session, self._case_scope)
        self.flags = SqlFlagRepository(self.session)
        self.protections = SqlProtectionReader(self.session)
        self.warnings = SqlWarningRepository(self.session, self._case_scope, self._borrower_scope)
        # Maker–checker's changes, and the rule sets in effect (read in this transaction).
        self.changes = SqlChangeRepository(self.session)
        self.rule_sets = SqlRuleSetReader(self.session)
        self.legal = SqlLegalRepository(self.session, self._case_scope)
        # Legal holds (the data life cycle); the case's lock serialises a case's holds.
        self.legal_holds = SqlLegalHoldRepository(self.session)
        self.write_offs = SqlWriteOffRepository(self.session)
        # Notices (their delivery receipts), through the case scope.
        self.notices = SqlNoticeRepository(self.session, self._case_scope)
        # Tasks a strategy gave to people, through the case scope.
        self.tasks = SqlTaskRepository(self.session, self._case_scope)
        return self

    def record(self, event: object) -> None:
        """Records an event that belongs to no aggregate; the audit hook sees it at commit."""
        self._recorded.append(event)

    def append_audit(self, key: bytes, *records: AuditRecord) -> None:
        """Adds ready-made audit records (e.g. a refusal) to this transaction's commit."""
        self._audit_key = key
        self._audit_records.extend(records)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()
        await self.session.close()

    async def write_case_events(self, events: Sequence[CaseEvent]) -> None:
        """Writes case events to the timeline's table in one statement (the commit writes the
        ones the aggregates recorded; set-based work writes its own through here)."""
        datas = [e.data() for e in events]
        rows = [
            {
                "case_id": e.case_id,
                "at": e.at,
                "actor_id": e.actor_id,
                "name": e.name,
                "data": data,
            }
            for e, data in zip(events, datas, strict=True)
        ]
        if not rows:
            return
        worthy = [is_decision(e.name, data) for e, data in zip(events, datas, strict=True)]
        if not any(worthy):
            await self.session.execute(tables.case_events.insert(), rows)
            return
        # The decisions among them are projected when the unit of work commits (store.decisions).
        insert = tables.case_events.insert().returning(
            tables.case_events.c.id, sort_by_parameter_order=True
        )
        ids = (await self.session.execute(insert, rows)).scalars().all()
        self._decision_events += [pk for pk, w in zip(ids, worthy, strict=True) if w]

    async def commit(self) -> None:
        if self._records_only:
            await self._commit_records()
            return
        try:
            # Flush first: a stale version fails here, before anything else is written.
            await self.session.flush()
        except StaleDataError:
            await self.session.rollback()
            raise ConcurrencyConflict(
                "the case was changed by someone else; reload it and try again"
            ) from None
        events = [e for case in self.cases.seen for e in case.events]
        # Case events recorded without their aggregate (a flag on each case of its borrower).
        recorded = [e for e in self._recorded if isinstance(e, CaseEvent)]
        await self.write_case_events([*events, *recorded])
        if self._idempotency is not None:
            await self._claim(self._idempotency)
        # The decisions feed's writers queue here until commit (store.decisions): after every
        # lock of the change itself, before the audit chain's head (the order of every writer).
        await decisions.project_events(self.session, self._decision_events)
        changes = [*events, *(e for s in self.staff.seen for e in s.events), *self._recorded]
        for key, records in self._audit_batches(changes):
            await audit.append(self.session, key, records)
        await self.session.commit()
        self._decision_events.clear()
        for case in self.cases.seen:
            case.events.clear()
        for staff in self.staff.seen:
            staff.events.clear()
        self._recorded.clear()
        self._audit_records.clear()

    async def _commit_records(self) -> None:
        """Commits a unit that only records: its entries are made ready first, so that the
        write lock (SQLite: taken here, by ``BEGIN IMMEDIATE``) covers only their append."""
        batches = [
            (key, audit.prepare(records)) for key, records in self._audit_batches(self._recorded)
        ]
        if not batches:
            return
        await self.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        for key, prepared in batches:
            await audit.append_prepared(self.session, key, prepared)
        await self.session.commit()
        self._recorded.clear()
        self._audit_records.clear()

    def _audit_batches(self, changes: list[Any]) -> list[tuple[bytes, list[AuditRecord]]]:
        """Returns what this commit records: the hook's records of its changes, then the ones
        added ready-made, as one batch (one chain, one ``INSERT``) per key — in practice one."""
        batches: list[tuple[bytes, list[AuditRecord]]] = []
        if self._audit is not None:
            batches.append(self._audit(changes))
        if self._audit_records and self._audit_key is not None:
            batches.append((self._audit_key, list(self._audit_records)))
        merged: list[tuple[bytes, list[AuditRecord]]] = []
        for key, records in batches:
            if merged and merged[-1][0] == key:
                merged[-1][1].extend(records)
            elif records:
                merged.append((key, list(records)))
        return merged

    async def _claim(self, claim: IdempotencyClaim) -> None:
        case_ids = [case.id for case in self.cases.seen]
        statement = tables.idempotency_keys.insert().values(
            staff_id=claim.staff_id,
            key=claim.key,
            operation=claim.operation,
            case_id=case_ids[0] if len(case_ids) == 1 else None,
            created_at=claim.at,
        )
        try:
            await self.session.execute(statement)
        except IntegrityError as exc:
            # Only a clash on the key's own unique constraint means that the same key was
            # committed meanwhile; any other integrity error is a fault and propagates.
            if not is_violation_of(exc, IDEMPOTENCY_UNIQUE):
                raise
            await self.session.rollback()
            raise ConcurrencyConflict(
                "a request with this idempotency key was just carried out; retry to get its result"
            ) from None

    async def rollback(self) -> None:
        self._decision_events.clear()
        await self.session.rollback()
