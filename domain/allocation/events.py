"""The event of an allocation: one record of many cases handed out at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CasesAllocated:
    """Cases of the pool assigned to a team's collectors in one transaction (each case also
    gets its own ``CaseAssigned`` on its timeline). Ids and counts only: no personal data."""

    at: datetime
    actor_id: int | None
    team: str
    strategy: str
    assignments: tuple[tuple[int, int], ...]  # (case id, staff id), in the order handed out
    left_over: int  # matching cases still unassigned because every collector was full

    @property
    def case_ids(self) -> list[int]:
        return [case_id for case_id, _ in self.assignments]

    def data(self) -> dict[str, object]:
        return {
            "team": self.team,
            "strategy": self.strategy,
            "assigned": len(self.assignments),
            "leftOver": self.left_over,
            "assignments": [
                {"caseId": case_id, "assigneeId": staff_id}
                for case_id, staff_id in self.assignments
            ],
        }
