"""The audit records of contact work's events (``api.audit.RequestAudit.for_changes`` asks
here): written in the transaction of the change, never with a point's value or a contact's
notes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.common.ids import to_global_id
from domain.contacts.events import (
    ContactCompleted,
    ContactLogged,
    ContactPointAdded,
    ContactPointUpdated,
    ContactRefused,
    ContactStarted,
)
from domain.errors import ErrorCode
from store.audit import AuditAction, AuditRecord, Outcome

Record = Callable[..., AuditRecord]


def _point(pk: int | None) -> str | None:
    return to_global_id("ContactPoint", pk) if pk is not None else None


def _contact(record: Record, action: str, ended: str, event: Any, **changes: Any) -> AuditRecord:
    return record(
        action,
        ended,
        resource_type="Contact",
        resource_ids=[to_global_id("Contact", event.contact_id)],
        case_ids=[event.case_id],
        changes=changes,
    )


def contact_record(record: Record, event: object) -> AuditRecord | None:
    """Returns the audit record of a contact-work event, or None for any other event."""
    if isinstance(event, ContactPointAdded | ContactPointUpdated):
        added = isinstance(event, ContactPointAdded)
        changes: dict[str, Any] = (
            {
                "kind": event.kind,
                "owner": event.owner,
                "status": event.status,
                "timeZone": event.time_zone,
            }
            if isinstance(event, ContactPointAdded)
            else dict(event.changes)
        )
        if isinstance(event, ContactPointAdded) and event.consent_evidence is not None:
            changes["consentedHours"] = event.consented_hours
            changes["consentedAt"] = event.consented_at.isoformat() if event.consented_at else None
        if event.consent_evidence is not None:
            changes["consentEvidence"] = event.consent_evidence
        return record(
            AuditAction.CONTACT_POINT_ADD if added else AuditAction.CONTACT_POINT_UPDATE,
            Outcome.ALLOWED,
            resource_type="ContactPoint",
            resource_ids=[to_global_id("ContactPoint", event.contact_point_id)],
            borrower_ids=[event.borrower_id],
            changes=changes,
        )
    if isinstance(event, ContactStarted):
        return _contact(
            record,
            AuditAction.CONTACT_START,
            Outcome.ALLOWED,
            event,
            channel=event.channel,
            party=event.party,
            contactPointId=_point(event.contact_point_id),
            profileVersion=event.profile_version,
        )
    if isinstance(event, ContactRefused):
        return _contact(
            record,
            AuditAction.CONTACT_START,
            Outcome.DENIED,
            event,
            refused=str(ErrorCode.COMPLIANCE_VIOLATION),
            rule=event.rule,
            breaches=list(event.breaches),
            nextAllowedAt=event.next_allowed_at.isoformat() if event.next_allowed_at else None,
            channel=event.channel,
            party=event.party,
            contactPointId=_point(event.contact_point_id),
            profileVersion=event.profile_version,
        )
    if isinstance(event, ContactCompleted):
        return _contact(
            record,
            AuditAction.CONTACT_COMPLETE,
            Outcome.ALLOWED,
            event,
            outcome=event.outcome,
            callbackAt=event.callback_at.isoformat() if event.callback_at else None,
            recorded=event.recorded,
        )
    if isinstance(event, ContactLogged):
        return _contact(
            record,
            AuditAction.CONTACT_LOG,
            Outcome.ALLOWED,
            event,
            channel=event.channel,
            direction=event.direction,
            party=event.party,
            outcome=event.outcome,
            occurredAt=event.occurred_at.isoformat(),
            contactPointId=_point(event.contact_point_id),
            breaches=list(event.breaches),
            profileVersion=event.profile_version,
        )
    return None
