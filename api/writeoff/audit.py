"""The audit record of a write-off decision (``api.audit.RequestAudit.for_changes`` asks here):
one per writeOff or markDebtSold, with the reason code and the reason's text."""

from __future__ import annotations

from collections.abc import Callable

from api.common.ids import to_global_id
from domain.writeoff.events import WriteOffDecided
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]


def write_off_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a write-off decision, or None for any other event."""
    if not isinstance(event, WriteOffDecided):
        return None
    sold = event.decision == "DEBT_SOLD"
    return record(
        AuditAction.CASE_TRANSITION if sold else AuditAction.CASE_WRITE_OFF,
        Outcome.ALLOWED,
        resource_type="Case",
        resource_ids=[to_global_id("Case", event.case_id)],
        case_ids=[event.case_id],
        reason_code=event.reason_code or event.decision,
        reason_text=event.reason_text,
        changes={"decision": event.decision, **event.changes},
    )
