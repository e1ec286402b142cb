"""A warning and its life cycle: RAISED → ACKNOWLEDGED → HANDLED (handling may skip the
acknowledgement); each step keeps who took it and when, handling a note as well."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from domain.errors import free_text
from domain.warnings import errors

# How long a handling note may be: a paragraph, not a file.
MAX_NOTE = 2000


class WarningStatus(enum.StrEnum):
    RAISED = "RAISED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    HANDLED = "HANDLED"


@dataclass
class EarlyWarning:
    """A warning as stored (``version``: the optimistic lock of its changes)."""

    id: int
    case_id: int
    borrower_id: int
    rule: str
    rule_version: str
    cause: str
    severity: str
    status: WarningStatus
    reason: str
    raised_at: datetime
    assignee_id: int | None = None
    agency_id: int | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: int | None = None
    handled_at: datetime | None = None
    handled_by: int | None = None
    note: str | None = None
    version: int = 1

    def acknowledge(self, actor_id: int | None, at: datetime) -> None:
        """Marks the warning seen; only a RAISED one can be acknowledged."""
        if self.status == WarningStatus.HANDLED:
            raise errors.WarningAlreadyHandled("the warning was already handled")
        if self.status == WarningStatus.ACKNOWLEDGED:
            raise errors.WarningAlreadyAcknowledged("the warning was already acknowledged")
        self.status = WarningStatus.ACKNOWLEDGED
        self.acknowledged_at, self.acknowledged_by = at, actor_id

    def handle(self, actor_id: int | None, at: datetime, note: str | None) -> None:
        """Closes the warning with what was done (from RAISED or ACKNOWLEDGED)."""
        if self.status == WarningStatus.HANDLED:
            raise errors.WarningAlreadyHandled("the warning was already handled")
        self.status = WarningStatus.HANDLED
        self.handled_at, self.handled_by, self.note = at, actor_id, note


def handling_note(text: str | None) -> str | None:
    """Returns the note without surrounding blanks (None when empty), or refuses one longer
    than MAX_NOTE characters."""
    return free_text(text, "note", MAX_NOTE, "the note")
