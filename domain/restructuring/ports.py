"""Ports of restructuring work: the repository and the unit of work that holds it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from domain.cases.model import Case
from domain.ports import UnitOfWork
from domain.restructuring.model import Restructuring, RestructuringKind, RestructuringStatus
from domain.rulesets import RuleSetKind


class RestructuringRepository(Protocol):
    async def case_of(self, restructuring_id: int) -> int | None:
        """Returns the case of a restructuring the caller may see (not locked), else None."""
        ...

    async def get(self, restructuring_id: int) -> Restructuring | None:
        """Returns the restructuring as stored now, locked, with its instalments (read after
        its case is locked, so that it is what the previous holder committed)."""
        ...

    async def open_of_case(
        self, case_id: int
    ) -> list[tuple[int, RestructuringKind, RestructuringStatus]]:
        """Returns (id, kind, status) of the case's PROPOSED and ACTIVE restructurings."""
        ...

    async def granted_since(
        self, case_id: int, since: datetime, exclude: int | None, currency: str
    ) -> Decimal:
        """Returns the case's cumulative concession from its restructurings decided at or after
        ``since`` (leaving out ``exclude``): each one's ``model.counted_concession`` (APPROVED,
        ACTIVE and COMPLETED ones their concession, BROKEN ones their waiver), exact to the
        currency's minor unit."""
        ...

    async def rule_set(
        self, kind: RuleSetKind, name: str, at: datetime
    ) -> tuple[int, Mapping[str, Any]] | None:
        """Returns (version, payload) of the rule set in effect at ``at``, or None."""
        ...

    async def add(self, restructuring: Restructuring) -> None:
        """Adds a new restructuring with its instalments and gives it its id."""
        ...

    async def save(self, restructuring: Restructuring) -> None:
        """Writes a decided restructuring (status, decision, what took effect)."""
        ...

    def touch(self, case: Case) -> None:
        """Marks the case changed, so that its version moves on with the commit."""
        ...


class RestructuringUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> RestructuringUnitOfWork: ...

    @property
    def restructurings(self) -> RestructuringRepository: ...
