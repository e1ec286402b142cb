"""The audit records of early warning's events (``api.audit.RequestAudit.for_changes`` asks
here): one per step of a warning, one per signal naming the borrower, the cases and the warnings
it raised; never a handling note or a signal's details."""

from __future__ import annotations

from collections.abc import Callable

from api.common.ids import to_global_id
from domain.warnings.events import ExternalSignalPosted, WarningAcknowledged, WarningHandled
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]


def warning_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a warning event, or None for any other event."""
    if isinstance(event, WarningAcknowledged | WarningHandled):
        assert event.case_id is not None
        handled = isinstance(event, WarningHandled)
        return record(
            AuditAction.WARNING_HANDLE if handled else AuditAction.WARNING_ACKNOWLEDGE,
            Outcome.ALLOWED,
            resource_type="Warning",
            resource_ids=[to_global_id("Warning", event.warning_id)],
            case_ids=[event.case_id],
            changes=event.data(),
        )
    if isinstance(event, ExternalSignalPosted):
        return record(
            AuditAction.SIGNAL_POST,
            Outcome.ALLOWED,
            resource_type="Borrower",
            resource_ids=[to_global_id("Borrower", event.borrower_id)],
            borrower_ids=[event.borrower_id],
            case_ids=list(event.case_ids),
            changes={
                "signalId": event.signal_id,
                "kind": event.kind,
                "severity": event.severity,
                "warnings": [to_global_id("Warning", pk) for pk in event.warning_ids],
            },
        )
    return None
