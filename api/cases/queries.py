"""Root query fields for cases: ``case(id:)`` and the ``cases`` connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import strawberry

from api.cases.types import Case, CaseStage, CaseStatus, Classification
from api.common.ids import pk_of
from api.common.inputs import check_text
from api.common.pagination import Connection, CountEstimate, connection, page_size
from api.context import Info
from api.errors import BadUserInput, MaskedField
from api.permissions import needs
from authz.masking import rule_for
from domain.borrowers.model import ConfidentialField
from domain.cases.model import Case as DomainCase
from store import case_queries
from store.case_queries import BorrowerMatch, CaseFilterSpec
from store.keyset import InvalidCursor

strawberry.enum(case_queries.CaseOrder, name="CaseOrder")
CaseOrder = case_queries.CaseOrder

MAX_SEARCH = 100


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
    account_number: str | None = strawberry.field(
        default=None, description="Exact account number of one of the case's debts."
    )
    borrower_national_id: str | None = strawberry.field(
        default=None,
        description="Exact national ID; refused (MASKED_FIELD) unless you see it in clear.",
    )
    borrower_phone: str | None = strawberry.field(
        default=None, description="Exact phone; refused (MASKED_FIELD) unless you see it in clear."
    )

    def to_spec(self, roles: list[str]) -> CaseFilterSpec:
        """Returns the store's filter, or raises BadUserInput for contradictory input or for a
        condition on a field the caller sees masked (it would let the value be inferred)."""
        for name, text in (
            ("filter.assigneeLogin", self.assignee_login),
            ("filter.agencyName", self.agency_name),
            ("filter.search", self.search),
            ("filter.accountNumber", self.account_number),
            ("filter.borrowerNationalId", self.borrower_national_id),
            ("filter.borrowerPhone", self.borrower_phone),
        ):
            check_text(name, text)
        matches = []
        for confidential, value in (
            (ConfidentialField.NATIONAL_ID, self.borrower_national_id),
            (ConfidentialField.PHONE, self.borrower_phone),
        ):
            if value is None:
                continue
            # The most revealing rule the roles hold anywhere (in legal proceedings included).
            rule = rule_for(roles, confidential, legal_stage=True)
            if not rule.clear:
                raise MaskedField(f"filter on {confidential.value} refused: you see it masked")
            matches.append(BorrowerMatch(confidential, value, rule.legal_stage_only))
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
        search = (self.search or "").strip()
        if len(search) > MAX_SEARCH:
            raise BadUserInput(f"filter.search is longer than {MAX_SEARCH} characters")
        return CaseFilterSpec(
            classifications=[c.value for c in self.classification or ()],
            stages=[s.value for s in self.stage or ()],
            statuses=[s.value for s in self.status or ()],
            min_days_past_due=self.min_days_past_due,
            max_days_past_due=self.max_days_past_due,
            assignee_login=self.assignee_login,
            agency_name=self.agency_name,
            search=search or None,
            account_number=self.account_number,
            borrower_matches=matches,
        )


@strawberry.type(
    name="CaseConnection",
    description="A page of cases in keyset order (Relay cursor connection), with the number of "
    "matching cases exact (`totalCount`) or estimated when they are many (`totalCountEstimate`).",
)
class CaseConnection(Connection[Case]):
    _estimate: strawberry.Private[Callable[[], Awaitable[case_queries.CountEstimate]]]

    @strawberry.field(
        description="How many cases match the filter, over all pages, cheaply: exact up to "
        f"{case_queries.EXACT_COUNT_UP_TO:,} (counting stops there, so it costs about a page); "
        "beyond that, if you may see every case, PostgreSQL's estimate of the filtered query "
        "from its statistics (`exact` false), where `totalCount` would count every one. With a "
        "narrower row scope it is always the exact count of the cases you may see."
    )
    async def total_count_estimate(self) -> CountEstimate:
        found = await self._estimate()
        return CountEstimate(count=found.count, exact=found.exact)


@strawberry.type
class CaseQuery:
    @strawberry.field(
        description="A case by its global ID, or null.", extensions=needs("case:read")
    )
    async def case(self, info: Info, id: strawberry.ID) -> Case | None:
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
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: CaseFilter | None = None,
        order_by: CaseOrder = case_queries.CaseOrder.DAYS_PAST_DUE_DESC,
    ) -> CaseConnection:
        ctx = info.context
        limit = page_size(first)
        spec = filter.to_spec(ctx.viewer.roles) if filter else CaseFilterSpec()
        spec = replace(spec, extra=[*spec.extra, ctx.scope.case])
        order = case_queries.CaseOrder(order_by)
        try:
            keyset = case_queries.decode_cursor(after, order) if after else None
        except InvalidCursor as exc:
            raise BadUserInput(f"after: {exc}") from None
        rows, more = await ctx.read(
            lambda session: case_queries.fetch_page(session, spec, order, keyset, limit)
        )
        for row in rows:
            assert row.id is not None
            ctx.cases.prime(row.id, row)
        ctx.audit.saw_cases([row.id for row in rows if row.id is not None])

        def cursor(row: DomainCase) -> str:
            return case_queries.encode_cursor(row, order)

        page = connection(
            rows,
            more,
            after=after,
            cursor=cursor,
            node=Case.from_domain,
            count=lambda: ctx.read(lambda session: case_queries.count(session, spec)),
        )
        return CaseConnection(
            edges=page.edges,
            page_info=page.page_info,
            _count=page._count,
            _estimate=lambda: ctx.read(
                lambda session: case_queries.estimate_count(
                    session, spec, whole_book=ctx.scope.every_case
                )
            ),
        )
