"""What the early-warning services need from persistence (the store implements it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.ports import UnitOfWork
from domain.warnings.model import EarlyWarning
from domain.warnings.rules import WarningRules


@dataclass(frozen=True)
class NewSignal:
    """A signal to store: ``details`` may be personal (kept in its row, nowhere else)."""

    borrower_id: int
    kind: str
    severity: str
    details: str
    received_at: datetime
    posted_by: int | None
    idempotency_key: str | None
    request_digest: str | None


@dataclass(frozen=True, order=True)
class RaisedWarning:
    warning_id: int
    case_id: int


class WarningRepository(Protocol):
    async def get(self, warning_id: int) -> EarlyWarning | None:
        """Returns the warning if its case is in the caller's scope, else None."""
        ...

    async def save(self, warning: EarlyWarning) -> None:
        """Writes the warning's changed steps if its version is still the one read (bumping
        it), else raises ConcurrencyConflict."""
        ...

    async def borrower_id(self, borrower_id: int | None, external_id: str | None) -> int | None:
        """Returns the id of the borrower by id or by the core's external id, if the caller
        may see them."""
        ...

    async def add_signal(self, signal: NewSignal) -> int:
        """Stores a signal; returns its id."""
        ...

    async def raise_for_signal(
        self, signal_id: int, rules: WarningRules, at: datetime
    ) -> list[RaisedWarning]:
        """Raises the signal's warning on each open case of its borrower in the caller's scope
        (once per case), returning the ones raised."""
        ...


class WarningUnitOfWork(UnitOfWork, Protocol):
    @property
    def warnings(self) -> WarningRepository: ...

    async def __aenter__(self) -> WarningUnitOfWork: ...
