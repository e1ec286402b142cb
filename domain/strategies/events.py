"""Events of treatment: case events the daily run writes (in SQL, with exactly these fields as
data: ``store.treatment_queries``) for the timeline's TREATMENT and TASK entries. Their data
holds names of strategies, segments, steps, rules and codes only."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.cases.events import CaseEvent


@dataclass(frozen=True, slots=True)
class TreatmentSegmentEntered(CaseEvent):
    """The case entered a segment (``segment`` None: it left ``previous_segment`` for none), or
    the same segment of another strategy: its steps start over from this entry. A new version
    or a change of variant alone keeps the entry (no event)."""

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


class TaskCancelReason(enum.StrEnum):
    """Why the daily run cancelled an open task a strategy step made."""

    CASE_CLOSED = "CASE_CLOSED"  # the case closed: no strategy treats it any more
    SEGMENT_LEFT = "SEGMENT_LEFT"  # the case left the segment entry whose step made the task


@dataclass(frozen=True, slots=True)
class TaskCancelled(CaseEvent):
    """The daily run cancelled an open task (``reason``: a ``TaskCancelReason``); the task's own
    reason and note stay with the task."""

    task_id: int
    kind: str
    step: str | None
    reason: str
