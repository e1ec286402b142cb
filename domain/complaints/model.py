"""The Complaint aggregate: a complaint or a dispute about a case, open until resolved.

While one is open, outbound contact on the case stops (rules ``OPEN_COMPLAINT`` and
``OPEN_DISPUTE``), and so do escalation, agency placement and allocation, and the collection
clock; days past due run on (``domain.flags.effects`` holds the effects as data)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from domain.complaints import errors
from domain.errors import free_text
from domain.portfolios import local_today

# Longest description or resolution kept (characters).
MAX_TEXT = 4000


class ComplaintKind(enum.StrEnum):
    COMPLAINT = "COMPLAINT"  # about how collection is done (manual 9.3)
    DISPUTE = "DISPUTE"  # about the debt itself (its amount, its existence)


class ComplaintStatus(enum.StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class ComplaintChannel(enum.StrEnum):
    """How the complaint reached the lender."""

    PHONE = "PHONE"
    SMS = "SMS"
    EMAIL = "EMAIL"
    LETTER = "LETTER"
    IN_PERSON = "IN_PERSON"
    WEB = "WEB"
    REGULATOR = "REGULATOR"  # forwarded by a regulator or an industry body


def check_text(value: str | None, field: str, *, what: str) -> str:
    """Returns the text stripped; refuses an empty one (DESCRIPTION_REQUIRED) or one longer
    than ``MAX_TEXT`` (TEXT_TOO_LONG)."""
    text = free_text(value, field, MAX_TEXT, what)
    if text is None:
        raise errors.DescriptionRequired(f"{what} is required", field=field)
    return text


@dataclass(eq=False)
class Complaint:
    case_id: int
    borrower_id: int
    kind: ComplaintKind
    channel: ComplaintChannel
    written: bool
    description: str
    filed_at: datetime
    filed_by: int | None
    status: ComplaintStatus = ComplaintStatus.OPEN
    resolved_at: datetime | None = None
    resolved_by: int | None = None
    resolution: str | None = None
    version: int = 1
    id: int | None = None

    @property
    def open(self) -> bool:
        return self.status is ComplaintStatus.OPEN

    def resolve(self, resolution: str, at: datetime, actor_id: int | None) -> None:
        """Resolves an open complaint (COMPLAINT_ALREADY_RESOLVED otherwise)."""
        if not self.open:
            raise errors.ComplaintAlreadyResolved(
                "the complaint is already resolved", field="complaintId"
            )
        self.resolution = check_text(resolution, "resolution", what="the resolution")
        self.status = ComplaintStatus.RESOLVED
        self.resolved_at = at
        self.resolved_by = actor_id
        self.version += 1

    def days_to_resolve(self, portfolio: str) -> int | None:
        """Calendar days from filing to resolution in the portfolio's time zone (None: open)."""
        if self.resolved_at is None:
            return None
        return (
            local_today(portfolio, self.resolved_at) - local_today(portfolio, self.filed_at)
        ).days


@dataclass(frozen=True)
class Pause:
    """A span during which the collection clock stood still: from ``start`` (a local date,
    inclusive) to ``end`` (exclusive; None: still paused)."""

    start: date
    end: date | None


def paused_days(opened_on: date, today: date, pauses: list[Pause] | tuple[Pause, ...]) -> int:
    """Days from ``opened_on`` to ``today`` that lie inside a pause of the collection clock
    (overlapping pauses count once): the one home of the concept (``Case.collectionClockDays``
    and ``Debt.pausedDays`` both read it)."""
    if today <= opened_on:
        return 0
    spans = sorted((max(p.start, opened_on), min(p.end or today, today)) for p in pauses)
    paused = 0
    cursor = opened_on
    for start, end in spans:
        start = max(start, cursor)
        if end > start:
            paused += (end - start).days
            cursor = end
    return paused


def collection_clock_days(
    opened_on: date, today: date, pauses: list[Pause] | tuple[Pause, ...]
) -> int:
    """Days the collection clock has run on a case: days from ``opened_on`` to ``today``, less
    every day inside a pause. Escalation timers read this; days past due never do (they are
    contractual and never paused)."""
    if today <= opened_on:
        return 0
    return (today - opened_on).days - paused_days(opened_on, today, pauses)


def _local_pauses(portfolio: str, spans: list[tuple[datetime, datetime | None]]) -> list[Pause]:
    return [
        Pause(local_today(portfolio, start), local_today(portfolio, end) if end else None)
        for start, end in spans
    ]


def clock_days_at(
    opened_on: date,
    portfolio: str,
    spans: list[tuple[datetime, datetime | None]],
    now: datetime,
) -> int:
    """``collection_clock_days`` of a case at an instant, its pauses given as instants (from,
    until or None), counted in the portfolio's calendar."""
    pauses = _local_pauses(portfolio, spans)
    return collection_clock_days(opened_on, local_today(portfolio, now), pauses)


def paused_days_at(
    opened_on: date,
    portfolio: str,
    spans: list[tuple[datetime, datetime | None]],
    now: datetime,
) -> int:
    """``paused_days`` of a case at an instant (as ``clock_days_at`` counts them)."""
    pauses = _local_pauses(portfolio, spans)
    return paused_days(opened_on, local_today(portfolio, now), pauses)
