"""The audit records of restructuring events (``api.audit.RequestAudit.for_changes`` asks
here): one per proposal, approval or rejection, naming the case and the restructuring, the maker
(``proposedBy``) and the checker (the entry's actor), with the stated reason as the entry's
reason text (the maker's for a proposal and its approval, the checker's for a rejection)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.common.ids import to_global_id
from domain.restructuring.events import (
    RestructuringApproved,
    RestructuringProposed,
    RestructuringRejected,
)
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]
_ACTIONS = {
    RestructuringProposed: AuditAction.RESTRUCTURING_PROPOSE,
    RestructuringApproved: AuditAction.RESTRUCTURING_APPROVE,
    RestructuringRejected: AuditAction.RESTRUCTURING_REJECT,
}


def restructuring_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a restructuring event, or None for any other event."""
    if not isinstance(event, RestructuringProposed | RestructuringApproved | RestructuringRejected):
        return None
    assert event.case_id is not None
    changes: dict[str, Any] = event.data()
    proposer = event.actor_id if isinstance(event, RestructuringProposed) else event.proposed_by
    changes["proposedBy"] = to_global_id("Staff", proposer) if proposer is not None else None
    if not isinstance(event, RestructuringProposed):
        decider = event.actor_id
        changes["decidedBy"] = to_global_id("Staff", decider) if decider is not None else None
    return record(
        _ACTIONS[type(event)],
        Outcome.ALLOWED,
        resource_type="Restructuring",
        resource_ids=[
            to_global_id("Restructuring", event.restructuring_id),
            to_global_id("Case", event.case_id),
        ],
        case_ids=[event.case_id],
        reason_text=event.reason_text,
        changes=changes,
    )
