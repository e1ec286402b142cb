"""The typed per-request context: the viewer, their scopes, one read session, the DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from strawberry.dataloader import DataLoader

from api.audit import RequestAudit
from api.settings import Settings
from authz.enforcer import Authorizer
from authz.scopes import Scope, assignable_staff_clause, scope_for
from domain.clock import Clock
from domain.staff.model import Staff
from store import loaders
from store.uow import IdempotencyClaim, SqlUnitOfWork

T = TypeVar("T")
K = TypeVar("K")


@dataclass
class Context:
    request: Request
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    viewer: Staff
    authorizer: Authorizer
    audit: RequestAudit
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _decisions: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scope: Scope = scope_for(self.viewer, self.clock.now())
        self.cases = self._loader(loaders.cases_by_id, self.scope.case)
        self.borrowers = self._loader(loaders.borrowers_by_id, self.scope.borrower)
        # Whether a borrower is in legal proceedings, for masking (see api.cases.types).
        self.legal_borrowers = self._loader(loaders.borrowers_in_legal_stage, self.scope.case)
        self.debts = self._loader(loaders.debts_by_id, self.scope.debt)
        self.debts_of_case = self._loader(loaders.debts_by_case_id, self.scope.debt)
        self.instalments = self._loader(loaders.instalments_by_debt_id, self.scope.debt)
        self.staff = self._loader(loaders.staff_by_id, self.scope.staff)
        self.agencies = self._loader(loaders.agencies_by_id, self.scope.agency)

    def allows(self, permission: str) -> bool:
        """Returns the enforcer's decision for the viewer, asked once per permission."""
        if permission not in self._decisions:
            self._decisions[permission] = self.authorizer.allows(self.viewer.roles, permission)
        return self._decisions[permission]

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Runs read work on the request's session, one at a time (sessions are not
        safe for concurrent use, and resolvers run concurrently)."""
        async with self._lock:
            if self._session is None:
                self._session = self.sessions()
            return await work(self._session)

    def _loader(
        self,
        fetch: Callable[[AsyncSession, Sequence[K], ColumnElement[bool]], Awaitable[Sequence[T]]],
        scope: ColumnElement[bool],
    ) -> DataLoader[K, T]:
        async def load(keys: list[K]) -> Sequence[T]:
            return await self.read(lambda session: fetch(session, keys, scope))

        return DataLoader(load_fn=load)

    def unit_of_work(self, claim: IdempotencyClaim | None = None) -> SqlUnitOfWork:
        """Returns a fresh unit of work (its own transaction) limited to the viewer's scope."""
        return SqlUnitOfWork(
            self.sessions,
            case_scope=self.scope.case,
            assignable_staff=assignable_staff_clause(self.viewer),
            audit=self.audit.for_changes,
            idempotency=claim,
        )

    async def release(self) -> None:
        """Gives the read session's connection back to the pool (it reopens on the next read).

        Called before a request opens a write transaction of its own, so that no request ever
        holds two connections and a burst of writers cannot exhaust the pool."""
        async with self._lock:
            if self._session is not None:
                await self._session.close()
                self._session = None

    async def close(self) -> None:
        await self.release()
