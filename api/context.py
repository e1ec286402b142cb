"""The typed per-request context: the viewer, one read session, and the DataLoaders."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from strawberry.dataloader import DataLoader

from api.settings import Settings
from domain.clock import Clock
from domain.staff.model import Staff
from store import loaders
from store.uow import SqlUnitOfWork

T = TypeVar("T")
K = TypeVar("K")


@dataclass
class Context:
    request: Request
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    viewer: Staff
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.cases = self._loader(loaders.cases_by_id)
        self.borrowers = self._loader(loaders.borrowers_by_id)
        self.debts = self._loader(loaders.debts_by_id)
        self.debts_of_case = self._loader(loaders.debts_by_case_id)
        self.staff = self._loader(loaders.staff_by_id)
        self.agencies = self._loader(loaders.agencies_by_id)

    async def read(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Runs read work on the request's session, one at a time (sessions are not
        safe for concurrent use, and resolvers run concurrently)."""
        async with self._lock:
            if self._session is None:
                self._session = self.sessions()
            return await work(self._session)

    def _loader(
        self, fetch: Callable[[AsyncSession, Sequence[K]], Awaitable[Sequence[T]]]
    ) -> DataLoader[K, T]:
        async def load(keys: list[K]) -> Sequence[T]:
            return await self.read(lambda session: fetch(session, keys))

        return DataLoader(load_fn=load)

    def unit_of_work(self) -> SqlUnitOfWork:
        """Returns a fresh unit of work (its own transaction) for a mutation."""
        return SqlUnitOfWork(self.sessions)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
