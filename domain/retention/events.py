"""Events of legal-hold work: case events (the case's record and the audit trail).

Their data hold the hold's id only. The stated reason is free text: it travels with the event for
the audit entry (``reason_text``) and is left out of ``data()``, so it never reaches the timeline
or the decisions feed."""

from __future__ import annotations

from dataclasses import dataclass

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class LegalHoldPlaced(CaseEvent):
    hold_id: int
    reason_text: str  # audit only

    def data(self) -> dict[str, object]:
        return {"hold_id": self.hold_id}


@dataclass(frozen=True, slots=True)
class LegalHoldReleased(CaseEvent):
    hold_id: int
    reason_text: str  # audit only

    def data(self) -> dict[str, object]:
        return {"hold_id": self.hold_id}
