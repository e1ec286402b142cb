"""The schema: per-aggregate query and mutation classes merged by inheritance."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from api.admin.mutations import AdminMutation
from api.auditing.queries import AuditQuery
from api.borrowers.mutations import BorrowerMutation
from api.cases.mutations import CaseMutation
from api.cases.queries import CaseQuery
from api.cases.types import Borrower, Case, Debt
from api.common.queries import CommonQuery
from api.errors import MaskInternalErrors
from api.extensions import AuditOperation
from api.staff.types import Agency, Staff


@strawberry.type
class Query(CommonQuery, CaseQuery, AuditQuery):
    pass


@strawberry.type
class Mutation(CaseMutation, BorrowerMutation, AdminMutation):
    pass


class DepthLimit(QueryDepthLimiter):
    def __init__(self) -> None:
        super().__init__(max_depth=12)


class AliasLimit(MaxAliasesLimiter):
    def __init__(self) -> None:
        super().__init__(max_alias_count=30)


class ArrearsSchema(strawberry.Schema):
    """Logs only unexpected errors: refusals and bad input are answers, not incidents."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        unexpected = [
            e
            for e in errors
            if e.original_error is not None and not isinstance(e.original_error, GraphQLError)
        ]
        super().process_errors(unexpected, execution_context)


def build_schema(introspection: bool = True) -> strawberry.Schema:
    """Returns the schema; production turns introspection off."""
    from strawberry.extensions import DisableIntrospection

    extensions: list[type] = [AuditOperation, MaskInternalErrors, DepthLimit, AliasLimit]
    if not introspection:
        extensions.append(DisableIntrospection)
    return ArrearsSchema(
        query=Query,
        mutation=Mutation,
        types=[Case, Borrower, Debt, Staff, Agency],
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = build_schema()
