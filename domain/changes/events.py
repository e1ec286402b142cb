"""Events of changes to rules and roles (not case events: they go to the audit trail only).

They hold kinds, names, numbers, ids and instants; the stated reasons go to the audit entry's
reason text. A rule set's payload is rules, never personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RuleChangeProposed:
    change_id: int
    kind: str
    name: str
    effective_from: datetime
    proposed_by: int
    at: datetime
    reason: str
    staff_id: int | None = None  # a role change's staff member


@dataclass(frozen=True, slots=True)
class RuleChangeApproved:
    change_id: int
    kind: str
    name: str
    version: int | None  # the rule set's new version number (None for a role change)
    effective_from: datetime
    proposed_by: int
    approved_by: int
    at: datetime
    reason: str  # the proposal's reason: why the change was made
    staff_id: int | None = None


@dataclass(frozen=True, slots=True)
class RuleChangeRejected:
    change_id: int
    kind: str
    name: str
    proposed_by: int
    rejected_by: int
    at: datetime
    reason: str  # why it was rejected
    staff_id: int | None = None
