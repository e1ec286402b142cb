"""Events about borrowers' personal data; the audit trail records them with the work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.borrowers.model import ConfidentialField, RevealReason


@dataclass(frozen=True, slots=True)
class ConfidentialValueRevealed:
    """A clear value was handed to a staff member for a stated reason (never the value)."""

    borrower_id: int
    at: datetime
    actor_id: int | None
    field: ConfidentialField
    reason: RevealReason
    reason_text: str
