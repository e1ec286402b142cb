"""GraphQL types of the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.common.ids import to_global_id
from store.audit import AuditAction, Outcome

strawberry.enum(Outcome, name="AuditOutcome", description="How an audited action ended.")
AuditOutcome = Outcome


@strawberry.type(
    description="A confidential field returned or revealed: its name, never its value."
)
class AuditField:
    name: str
    clear: bool = strawberry.field(description="True if the value was returned in clear.")


@strawberry.type(description="One entry of the tamper-evident audit trail.")
class AuditEntry:
    id: strawberry.ID
    at: datetime
    actor_login: str | None
    actor_roles: list[str]
    action: str = strawberry.field(description="Dotted action: " + ", ".join(AuditAction) + ".")
    outcome: AuditOutcome
    resource_type: str | None
    resource_ids: list[str]
    borrower_ids: list[strawberry.ID] = strawberry.field(
        description="Borrowers whose personal data the action returned or revealed."
    )
    case_ids: list[strawberry.ID]
    fields: list[AuditField]
    reason_code: str | None
    reason_text: str | None
    client_ip: str | None
    user_agent: str | None
    request_id: str | None
    operation_name: str | None
    operation_type: str | None
    document_hash: str | None = strawberry.field(
        description="HMAC-SHA-256 of the GraphQL document, keyed so that it cannot be matched "
        "against guessed documents."
    )
    changes: JSON | None = strawberry.field(
        description="Before/after of ordinary fields, or why a change was refused."
    )
    chain: int
    seq: int
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        return cls(
            id=strawberry.ID(to_global_id("AuditEntry", row.id)),
            at=row.at,
            actor_login=row.actor_login,
            actor_roles=list(row.actor_roles),
            action=row.action,
            outcome=AuditOutcome(row.outcome),
            resource_type=row.resource_type,
            resource_ids=list(row.resource_ids),
            borrower_ids=[strawberry.ID(to_global_id("Borrower", b)) for b in row.borrower_ids],
            case_ids=[strawberry.ID(to_global_id("Case", c)) for c in row.case_ids],
            fields=[AuditField(name=f["name"], clear=bool(f["clear"])) for f in row.fields],
            reason_code=row.reason_code,
            reason_text=row.reason_text,
            client_ip=row.client_ip,
            user_agent=row.user_agent,
            request_id=row.request_id,
            operation_name=row.operation_name,
            operation_type=row.operation_type,
            document_hash=row.document_hash,
            changes=row.changes,
            chain=row.chain,
            seq=row.seq,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )
