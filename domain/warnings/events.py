"""Events of warnings: the steps of one are recorded on its case (timeline table and audit);
a posted signal concerns a borrower and is recorded on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class WarningAcknowledged(CaseEvent):
    warning_id: int
    rule: str


@dataclass(frozen=True, slots=True)
class WarningHandled(CaseEvent):
    """A warning was handled; the note stays with the warning (it may be personal)."""

    warning_id: int
    rule: str
    previous_status: str
    with_note: bool


@dataclass(frozen=True, slots=True)
class ExternalSignalPosted:
    """A partner system's signal about a borrower, and the warnings it raised at once. The
    signal's details are never part of the event (they may be personal)."""

    signal_id: int
    borrower_id: int
    kind: str
    severity: str
    at: datetime
    actor_id: int | None
    case_ids: tuple[int, ...]
    warning_ids: tuple[int, ...]
