"""Ports of notice work: the repository of notices (for their receipts) and the unit of work
that holds it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.notices.receipts import Notice, Receipt
from domain.ports import UnitOfWork


class NoticeRepository(Protocol):
    async def get(self, notice_id: int) -> Notice | None:
        """Returns the notice, locked, if the caller may see its case, else None."""
        ...

    async def keep_receipt(
        self, receipt: Receipt, received_at: datetime, recorded_by: int | None
    ) -> None:
        """Keeps a delivery receipt as the gateway sent it (evidence, refused ones too)."""
        ...

    async def save(self, notice: Notice, previous_version: int) -> None:
        """Writes a changed notice if it is still at ``previous_version`` (else
        ConcurrencyConflict)."""
        ...


class NoticesUnitOfWork(UnitOfWork, Protocol):
    async def __aenter__(self) -> NoticesUnitOfWork: ...

    @property
    def notices(self) -> NoticeRepository: ...
