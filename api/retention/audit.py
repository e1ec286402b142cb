"""The audit records of legal holds (``api.audit.RequestAudit.for_changes`` asks here): a case
change naming the case and the hold, with the stated reason as ``reason_text`` (the audit trail
is where free text about a decision belongs; the timeline never shows it)."""

from __future__ import annotations

from collections.abc import Callable

from api.common.ids import to_global_id
from domain.retention.events import LegalHoldPlaced, LegalHoldReleased
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]


def legal_hold_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a legal-hold event, or None for any other event."""
    if not isinstance(event, LegalHoldPlaced | LegalHoldReleased):
        return None
    assert event.case_id is not None
    placed = isinstance(event, LegalHoldPlaced)
    return record(
        AuditAction.LEGAL_HOLD_PLACE if placed else AuditAction.LEGAL_HOLD_RELEASE,
        Outcome.ALLOWED,
        resource_type="Case",
        resource_ids=[to_global_id("Case", event.case_id)],
        case_ids=[event.case_id],
        reason_text=event.reason_text,
        changes={
            "holdId": to_global_id("LegalHold", event.hold_id),
            "inForce": placed,
        },
    )
