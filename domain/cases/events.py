"""Domain events recorded by the Case aggregate; the unit of work persists them with the change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class CaseEvent:
    case_id: int | None
    at: datetime
    actor_id: int | None

    # Fields left out of ``data`` when None (an event written in SQL may leave them out too).
    OPTIONAL_DATA: ClassVar[frozenset[str]] = frozenset()

    @property
    def name(self) -> str:
        return type(self).__name__

    def data(self) -> dict[str, object]:
        """Returns the event's own fields (ordinary values only, never personal data); an
        optional one only when it has a value."""
        skip = {"case_id", "at", "actor_id"}
        result: dict[str, object] = {}
        for key in self.__slots__:
            if key in skip:
                continue
            value = getattr(self, key)
            if value is None and key in self.OPTIONAL_DATA:
                continue
            result[key] = value.isoformat() if isinstance(value, (date, datetime)) else value
        return result


def check_data_keys(event: type[Any], keys: set[str], extra: Sequence[str] = ()) -> None:
    """Raises AssertionError unless ``keys`` are the data an event of this type gives: every
    field but its optional ones, which may be left out, and the ``extra`` keys a batch adds
    (for events whose data is built in SQL, so that the timeline reads them as it reads the
    services')."""
    fields = {name for name in event.__slots__ if name not in ("case_id", "at", "actor_id")}
    fields |= set(extra)
    optional = set(getattr(event, "OPTIONAL_DATA", frozenset()))
    if not fields - optional <= keys <= fields:
        raise AssertionError(f"{event.__name__} data must have {sorted(fields)}: {sorted(keys)}")


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

    OPTIONAL_DATA: ClassVar[frozenset[str]] = frozenset({"hold_reason"})
