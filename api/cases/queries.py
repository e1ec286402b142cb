"""Root query fields for cases: ``case(id:)`` and the ``cases`` connection."""

from __future__ import annotations

from dataclasses import replace

import strawberry
from sqlalchemy import ColumnElement, select

from api.cases.types import Case, CaseConnection, CaseEdge, CaseStage, CaseStatus, Classification
from api.common.ids import pk_of
from api.common.inputs import check_text
from api.common.types import PageInfo
from api.errors import BadUserInput, MaskedField
from api.permissions import needs
from authz.masking import rule_for
from store import case_queries, tables
from store.case_queries import CaseFilterSpec, InvalidCursor

DEFAULT_PAGE = 20
MAX_PAGE = 100

strawberry.enum(case_queries.CaseOrder, name="CaseOrder")
CaseOrder = case_queries.CaseOrder


@strawberry.input(description="Every condition given must hold (AND); lists match any value (OR).")
class CaseFilter:
    classification: list[Classification] | None = None
    stage: list[CaseStage] | None = None
    status: list[CaseStatus] | None = None
    min_days_past_due: int | None = None
    max_days_past_due: int | None = None
    assignee_login: str | None = None
    agency_name: str | None = None
    search: str | None = strawberry.field(
        default=None, description="Matches the case reference (prefix) or borrower name (part)."
    )
    borrower_national_id: str | None = strawberry.field(
        default=None,
        description="Exact national ID; refused (MASKED_FIELD) unless you see it in clear.",
    )
    borrower_phone: str | None = strawberry.field(
        default=None, description="Exact phone; refused (MASKED_FIELD) unless you see it in clear."
    )

    def to_spec(self, roles: list[str] | None = None) -> CaseFilterSpec:
        """Returns the store's filter, or raises BadUserInput for contradictory input or for a
        condition on a field the caller sees masked (it would let the value be inferred)."""
        confidential = {}
        for name, value in (
            ("national_id", self.borrower_national_id),
            ("phone", self.borrower_phone),
        ):
            if value is None:
                continue
            rule = rule_for(roles or [], name, legal_stage=True)
            if not rule.clear:
                raise MaskedField(f"filter on {name} refused: you see it masked")
            confidential[name] = (value, rule.legal_stage_only)
        for name, days in (
            ("minDaysPastDue", self.min_days_past_due),
            ("maxDaysPastDue", self.max_days_past_due),
        ):
            if days is not None and days < 0:
                raise BadUserInput(f"filter.{name} must not be negative")
        if (
            self.min_days_past_due is not None
            and self.max_days_past_due is not None
            and self.min_days_past_due > self.max_days_past_due
        ):
            raise BadUserInput("filter.minDaysPastDue is greater than filter.maxDaysPastDue")
        for name, text in (
            ("filter.assigneeLogin", self.assignee_login),
            ("filter.agencyName", self.agency_name),
            ("filter.search", self.search),
            ("filter.borrowerNationalId", self.borrower_national_id),
            ("filter.borrowerPhone", self.borrower_phone),
        ):
            check_text(name, text)
        search = (self.search or "").strip()
        if len(search) > 100:
            raise BadUserInput("filter.search is longer than 100 characters")
        return CaseFilterSpec(
            classifications=[c.value for c in self.classification or ()],
            stages=[s.value for s in self.stage or ()],
            statuses=[s.value for s in self.status or ()],
            min_days_past_due=self.min_days_past_due,
            max_days_past_due=self.max_days_past_due,
            assignee_login=self.assignee_login,
            agency_name=self.agency_name,
            search=search or None,
            extra=confidential_clauses(confidential),
        )


def confidential_clauses(conditions: dict[str, tuple[str, bool]]) -> list[ColumnElement[bool]]:
    """Returns exact-match clauses on borrower fields, kept to legal-stage cases where the
    caller sees the field in clear only through them."""
    clauses: list[ColumnElement[bool]] = []
    for name, (value, legal_only) in conditions.items():
        column = getattr(tables.borrowers.c, name)
        clauses.append(
            tables.cases.c.borrower_id.in_(select(tables.borrowers.c.id).where(column == value))
        )
        if legal_only:
            clauses.append(tables.cases.c.stage == "LEGAL")
    return clauses


def page_size(first: int | None) -> int:
    """Returns the page size, or raises BadUserInput outside 0…100."""
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise BadUserInput(f"first must be between 0 and {MAX_PAGE}")
    return first


@strawberry.type
class CaseQuery:
    @strawberry.field(
        description="A case by its global ID, or null.", extensions=needs("case:read")
    )
    async def case(self, info: strawberry.Info, id: strawberry.ID) -> Case | None:
        pk = pk_of(id, "Case")
        if pk is None:
            return None
        case = await info.context.cases.load(pk)
        if case is None:
            return None
        info.context.audit.saw_cases([pk])
        return Case.from_domain(case)

    @strawberry.field(
        description="Cases in keyset order (default: most days past due first, then by ID).",
        extensions=needs("case:read"),
    )
    async def cases(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        filter: CaseFilter | None = None,
        order_by: CaseOrder = case_queries.CaseOrder.DAYS_PAST_DUE_DESC,
    ) -> CaseConnection:
        limit = page_size(first)
        spec = filter.to_spec(info.context.viewer.roles) if filter else CaseFilterSpec()
        spec = replace(spec, extra=[*spec.extra, info.context.scope.case])
        order = case_queries.CaseOrder(order_by)
        try:
            keyset = case_queries.decode_cursor(after, order) if after else None
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        rows, more = await info.context.read(
            lambda session: case_queries.fetch_page(session, spec, order, keyset, limit)
        )
        for row in rows:
            info.context.cases.prime(row.id, row)
        info.context.audit.saw_cases([row.id for row in rows])
        edges = [
            CaseEdge(cursor=case_queries.encode_cursor(row, order), node=Case.from_domain(row))
            for row in rows
        ]
        return CaseConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
            _spec=spec,
        )
