"""Events of treatment: case events the daily run writes (in SQL, with exactly these fields as
data: ``store.treatment_queries``) for the timeline's TREATMENT entries. Their data holds names
of strategies, segments, steps and rules only."""

from __future__ import annotations

from dataclasses import dataclass

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class TreatmentSegmentEntered(CaseEvent):
    """The case entered a segment (``segment`` None: it left ``previous_segment`` for none), or
    the same segment of another strategy or variant: its steps start over from this entry."""

    strategy: str
    version: str
    variant: str
    segment: str | None
    previous_segment: str | None


@dataclass(frozen=True, slots=True)
class TreatmentStepTaken(CaseEvent):
    """A step of the case's segment fell due: done, suppressed or refused (``rule`` names
    why), or skipped (a later step fell due the same day)."""

    strategy: str
    version: str
    variant: str
    segment: str
    step: str
    action: str
    status: str
    rule: str | None
