"""Borrower flags: facts about the borrower (so they cover all their cases), set with evidence,
a note and a review date, and lifted with a note; a lifted flag's row stays."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime


class BorrowerFlagKind(enum.StrEnum):
    HARDSHIP = "HARDSHIP"
    SERIOUS_ILLNESS = "SERIOUS_ILLNESS"
    DECEASED = "DECEASED"
    MILITARY_SERVICE = "MILITARY_SERVICE"
    BANKRUPTCY = "BANKRUPTCY"
    VULNERABLE = "VULNERABLE"  # elderly or otherwise vulnerable
    CEASE_COMMUNICATION = "CEASE_COMMUNICATION"  # the borrower asked, in writing, for no contact


@dataclass(eq=False)
class BorrowerFlag:
    borrower_id: int
    flag: BorrowerFlagKind
    set_at: datetime
    set_by: int | None
    evidence_ref: str | None = None
    note: str | None = None
    review_on: date | None = None
    lifted_at: datetime | None = None
    lifted_by: int | None = None
    lift_note: str | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def lift(self, at: datetime, actor_id: int | None, note: str | None) -> None:
        self.lifted_at = at
        self.lifted_by = actor_id
        self.lift_note = note
