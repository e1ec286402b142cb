"""Events of flag work.

``BorrowerFlagSet`` / ``BorrowerFlagLifted``: one per change, for the audit trail (the borrower
and every case of theirs). ``BorrowerFlagged`` / ``BorrowerUnflagged``: case events, one per case
of the borrower, for each case's timeline and the decisions feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class BorrowerFlagSet:
    borrower_id: int
    flag_id: int
    at: datetime
    actor_id: int | None
    flag: str
    review_on: date | None
    evidence_given: bool  # whether an evidence reference was given (never the reference)
    case_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BorrowerFlagLifted:
    borrower_id: int
    flag_id: int
    at: datetime
    actor_id: int | None
    flag: str
    case_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BorrowerFlagged(CaseEvent):
    borrower_id: int
    flag_id: int
    flag: str
    review_on: date | None


@dataclass(frozen=True, slots=True)
class BorrowerUnflagged(CaseEvent):
    borrower_id: int
    flag_id: int
    flag: str
