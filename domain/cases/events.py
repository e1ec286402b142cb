"""Domain events recorded by the Case aggregate; the unit of work persists them with the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class CaseEvent:
    case_id: int | None
    at: datetime
    actor_id: int | None

    @property
    def name(self) -> str:
        return type(self).__name__

    def data(self) -> dict[str, object]:
        """Returns the event's own fields (ordinary values only, never personal data)."""
        skip = {"case_id", "at", "actor_id"}
        result: dict[str, object] = {}
        for key in self.__slots__:
            if key in skip:
                continue
            value = getattr(self, key)
            result[key] = value.isoformat() if isinstance(value, (date, datetime)) else value
        return result


@dataclass(frozen=True, slots=True)
class CaseAssigned(CaseEvent):
    assignee_id: int
    previous_assignee_id: int | None


@dataclass(frozen=True, slots=True)
class CasePlaced(CaseEvent):
    agency_id: int
    placement_ends_on: date
    previous_assignee_id: int | None


@dataclass(frozen=True, slots=True)
class CaseRecalled(CaseEvent):
    agency_id: int


@dataclass(frozen=True, slots=True)
class CaseReclassified(CaseEvent):
    days_past_due: int
    bucket: str
    classification: str
    previous_bucket: str | None
    previous_classification: str | None
    policy_version: str


@dataclass(frozen=True, slots=True)
class CaseTransitioned(CaseEvent):
    """A move of the life cycle (domain.lifecycle): status and stage before and after."""

    trigger: str
    from_status: str
    to_status: str
    from_stage: str
    to_stage: str
    close_reason: str | None
    hold_reason: str | None = None  # a HOLD's reason code (``domain.lifecycle.table.HoldReason``)

    def data(self) -> dict[str, object]:
        """The event's fields; ``hold_reason`` only on a hold."""
        result = CaseEvent.data(self)
        if self.hold_reason is None:
            del result["hold_reason"]
        return result
