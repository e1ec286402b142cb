"""The audit records of legal escalation's events (``api.audit.RequestAudit.for_changes`` asks
here): who referred, who approved or rejected, and why (the stated reasons, as ``reason_text``:
the audit trail is where free text about a decision belongs; the timeline never shows it)."""

from __future__ import annotations

from collections.abc import Callable

from api.common.ids import to_global_id
from domain.legal.events import (
    LegalActionRecorded,
    LegalReferralApproved,
    LegalReferralMade,
    LegalReferralRejected,
)
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]
_ACTIONS = {
    LegalReferralMade: AuditAction.LEGAL_REFER,
    LegalReferralApproved: AuditAction.LEGAL_APPROVE,
    LegalReferralRejected: AuditAction.LEGAL_REJECT,
}


def legal_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a legal event, or None for any other event."""
    if isinstance(event, LegalReferralMade | LegalReferralApproved | LegalReferralRejected):
        assert event.case_id is not None
        return record(
            _ACTIONS[type(event)],
            Outcome.ALLOWED,
            resource_type="LegalReferral",
            resource_ids=[to_global_id("LegalReferral", event.referral_id)],
            case_ids=[event.case_id],
            reason_text=event.reason_text,
            changes={
                **event.data(),
                "referredBy": to_global_id("Staff", event.referred_by),
                **(
                    {"decidedBy": to_global_id("Staff", event.actor_id)}
                    if event.actor_id is not None and not isinstance(event, LegalReferralMade)
                    else {}
                ),
            },
        )
    if isinstance(event, LegalActionRecorded):
        assert event.case_id is not None
        return record(
            AuditAction.LEGAL_ACT,
            Outcome.ALLOWED,
            resource_type="Case",
            resource_ids=[to_global_id("Case", event.case_id)],
            case_ids=[event.case_id],
            changes=event.data(),
        )
    return None
