"""Legal holds: while a case has one in force (not released), nothing of it is purged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.retention.errors import LegalHoldReleased


@dataclass(eq=False)
class LegalHold:
    case_id: int
    reason: str
    placed_at: datetime
    placed_by: int | None
    released_at: datetime | None = None
    released_by: int | None = None
    id: int | None = None

    @property
    def in_force(self) -> bool:
        return self.released_at is None

    def release(self, at: datetime, actor_id: int | None) -> None:
        """Releases the hold (LEGAL_HOLD_RELEASED if it was released already)."""
        if not self.in_force:
            raise LegalHoldReleased("the legal hold was already released", field="holdId")
        self.released_at = at
        self.released_by = actor_id
