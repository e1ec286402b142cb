"""The audit records of flag work's events (``api.audit.RequestAudit.for_changes`` asks here):
one per change, naming the borrower and every case of theirs; never the free-text note nor the
evidence reference (only whether one was given)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.common.ids import to_global_id
from domain.flags.events import BorrowerFlagLifted, BorrowerFlagSet
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]


def flag_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a flag event, or None for any other event."""
    if not isinstance(event, BorrowerFlagSet | BorrowerFlagLifted):
        return None
    changes: dict[str, Any] = {"flag": event.flag, "flagId": event.flag_id}
    if isinstance(event, BorrowerFlagSet):
        changes["reviewOn"] = event.review_on.isoformat() if event.review_on else None
        changes["evidenceGiven"] = event.evidence_given  # never the reference itself
    return record(
        AuditAction.BORROWER_FLAG
        if isinstance(event, BorrowerFlagSet)
        else AuditAction.BORROWER_UNFLAG,
        Outcome.ALLOWED,
        resource_type="Borrower",
        resource_ids=[to_global_id("Borrower", event.borrower_id)],
        borrower_ids=[event.borrower_id],
        case_ids=list(event.case_ids),
        changes=changes,
    )
