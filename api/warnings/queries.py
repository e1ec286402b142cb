"""The ``warnings`` connection: the warnings of the cases the viewer can see, newest first."""

from __future__ import annotations

from dataclasses import replace

import strawberry

from api.common.ids import pk_of
from api.common.pagination import Connection, connection, page_size
from api.context import Info
from api.errors import BadUserInput
from api.permissions import needs
from api.warnings.types import Severity, WarningNode, WarningStatus
from domain.warnings.rules import RuleName
from store import warnings_queries
from store.keyset import InvalidCursor
from store.warnings_queries import WarningFilterSpec


@strawberry.input(description="Every condition given must hold (AND); lists match any value (OR).")
class WarningFilter:
    status: list[WarningStatus] | None = None
    severity: list[Severity] | None = None
    rule: list[str] | None = strawberry.field(
        default=None, description="Rule names, e.g. RISING_DPD (docs/API.md lists them)."
    )
    case_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this case's warnings."
    )

    def to_spec(self) -> WarningFilterSpec:
        """Returns the store's filter; refuses an unknown rule or a malformed case ID."""
        rules = list(self.rule or ())
        unknown = sorted(set(rules) - set(RuleName.__members__))
        if unknown:
            raise BadUserInput(f"filter.rule: unknown rule {unknown[0][:40]!r}")
        case_pk = None
        if self.case_id is not None:
            case_pk = pk_of(self.case_id, "Case")
            if case_pk is None:
                raise BadUserInput("filter.caseId is not a case ID")
        return WarningFilterSpec(
            statuses=[s.value for s in self.status or ()],
            severities=[s.value for s in self.severity or ()],
            rules=rules,
            case_id=case_pk,
        )


@strawberry.type
class WarningQuery:
    @strawberry.field(
        description="Warnings on the cases you can see, newest first (by raising order).",
        extensions=needs("warning:read"),
    )
    async def warnings(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: WarningFilter | None = None,
    ) -> Connection[WarningNode]:
        ctx = info.context
        limit = page_size(first)
        spec = filter.to_spec() if filter else WarningFilterSpec()
        spec = replace(spec, case_scope=ctx.scope.case)
        try:
            position = warnings_queries.decode_cursor(after) if after else None
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        rows, more = await ctx.read(
            lambda session: warnings_queries.fetch_page(session, spec, position, limit)
        )
        for row in rows:
            ctx.warnings.prime(row.id, row)
        return connection(
            rows,
            more,
            after=after,
            cursor=warnings_queries.encode_cursor,
            node=WarningNode.from_domain,
            count=lambda: ctx.read(lambda session: warnings_queries.count(session, spec)),
        )
