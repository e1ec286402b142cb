"""Auditor queries: ``auditTrail`` and ``accessHistory`` (auditors and administrators only)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.auditing.types import AuditEntry, AuditOutcome
from api.common.ids import pk_of
from api.common.inputs import check_text, utc_instant
from api.common.pagination import Connection, connection, page_size
from api.context import Info
from api.errors import BadUserInput
from api.permissions import needs
from store import audit_queries
from store.audit_queries import AuditFilterSpec
from store.keyset import InvalidCursor


@strawberry.input(description="Every condition given must hold.")
class AuditFilter:
    actor_login: str | None = None
    action: str | None = None
    resource_id: strawberry.ID | None = None
    borrower_id: strawberry.ID | None = None
    case_id: strawberry.ID | None = None
    outcome: AuditOutcome | None = None
    since: datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")

    def to_spec(self) -> AuditFilterSpec:
        """Returns the store's filter, or raises BadUserInput for arguments no row can match."""
        borrower = _pk(self.borrower_id, "Borrower", "filter.borrowerId")
        case = _pk(self.case_id, "Case", "filter.caseId")
        check_text("filter.actorLogin", self.actor_login)
        check_text("filter.action", self.action)
        check_text("filter.resourceId", self.resource_id)
        return AuditFilterSpec(
            actor_login=self.actor_login,
            action=self.action,
            outcome=self.outcome.value if self.outcome else None,
            resource_id=self.resource_id,
            borrower_id=borrower,
            case_id=case,
            since=utc_instant("filter.since", self.since),
            until=utc_instant("filter.until", self.until),
        )


def _pk(global_id: strawberry.ID | None, type_name: str, name: str) -> int | None:
    if global_id is None:
        return None
    pk = pk_of(global_id, type_name)
    if pk is None:
        raise BadUserInput(f"{name} is not a {type_name} ID")
    return pk


async def _page(
    info: Info, spec: AuditFilterSpec, first: int | None, after: str | None
) -> Connection[AuditEntry]:
    ctx = info.context
    ctx.audit.read_audit_trail()
    limit = page_size(first)
    try:
        after_id = audit_queries.decode_cursor(after) if after else None
    except InvalidCursor as exc:
        raise BadUserInput(f"after: {exc}") from None
    rows, more = await ctx.read(
        lambda session: audit_queries.fetch_page(session, spec, after_id, limit)
    )
    return connection(
        rows,
        more,
        after=after,
        cursor=lambda row: audit_queries.encode_cursor(row.id),
        node=AuditEntry.from_row,
        count=lambda: ctx.read(lambda session: audit_queries.count(session, spec)),
    )


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="The audit trail, newest first (auditors and administrators).",
        extensions=needs("audit:read"),
    )
    async def audit_trail(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AuditFilter | None = None,
    ) -> Connection[AuditEntry]:
        spec = filter.to_spec() if filter else AuditFilterSpec()
        return await _page(info, spec, first, after)

    @strawberry.field(
        description="Who saw or revealed this borrower's personal data, newest first.",
        extensions=needs("audit:read"),
    )
    async def access_history(
        self,
        info: Info,
        borrower_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntry]:
        pk = _pk(borrower_id, "Borrower", "borrowerId")
        spec = AuditFilterSpec(borrower_id=pk, personal_data_only=True)
        return await _page(info, spec, first, after)
