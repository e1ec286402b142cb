"""Events of complaint work: case events (the timeline, the audit trail, the decisions feed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class ComplaintFiled(CaseEvent):
    complaint_id: int
    kind: str  # COMPLAINT or DISPUTE
    channel: str
    written: bool


@dataclass(frozen=True, slots=True)
class ComplaintResolved(CaseEvent):
    complaint_id: int
    kind: str
    filed_at: datetime
    days_to_resolve: int  # calendar days in the portfolio's time zone
