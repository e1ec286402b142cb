"""The audit records of maker–checker's events (``api.audit.RequestAudit.for_changes`` asks
here): one policy.change entry per proposal, approval and rejection, naming the change, the rule
set (kind, name, version number) or the staff member whose role it changes, who proposed it and
who decided it; the reason is the entry's reason text. The rule set's content stays in
``rule_changes`` (rules, never personal data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.common.ids import to_global_id
from domain.changes.events import RuleChangeApproved, RuleChangeProposed, RuleChangeRejected
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]


def change_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a change's event, or None for any other event."""
    changes: dict[str, Any]
    if isinstance(event, RuleChangeProposed):
        changes = {
            "change": "PROPOSED",
            "kind": event.kind,
            "name": event.name,
            "effectiveFrom": event.effective_from.isoformat(),
            "proposedBy": to_global_id("Staff", event.proposed_by),
        }
    elif isinstance(event, RuleChangeApproved):
        changes = {
            "change": "APPROVED",
            "kind": event.kind,
            "name": event.name,
            "version": event.version,
            "effectiveFrom": event.effective_from.isoformat(),
            "proposedBy": to_global_id("Staff", event.proposed_by),
            "approvedBy": to_global_id("Staff", event.approved_by),
        }
    elif isinstance(event, RuleChangeRejected):
        changes = {
            "change": "REJECTED",
            "kind": event.kind,
            "name": event.name,
            "proposedBy": to_global_id("Staff", event.proposed_by),
            "rejectedBy": to_global_id("Staff", event.rejected_by),
        }
    else:
        return None
    return record(
        AuditAction.POLICY_CHANGE,
        Outcome.ALLOWED,
        resource_type="RuleChange",
        resource_ids=[
            to_global_id("RuleChange", event.change_id),
            *([to_global_id("Staff", event.staff_id)] if event.staff_id is not None else []),
        ],
        reason_text=event.reason or None,
        changes=changes,
    )
