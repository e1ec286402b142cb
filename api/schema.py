"""The schema: per-aggregate query and mutation classes merged by inheritance."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from api.admin.mutations import AdminMutation
from api.borrowers.mutations import BorrowerMutation
from api.cases.mutations import CaseMutation
from api.cases.queries import CaseQuery
from api.cases.types import Borrower, Case, Debt
from api.common.queries import CommonQuery
from api.errors import MaskInternalErrors
from api.extensions import AuditOperation
from api.staff.types import Agency, Staff


@strawberry.type
class Query(CommonQuery, CaseQuery):
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


def build_schema(introspection: bool = True) -> strawberry.Schema:
    """Returns the schema; production turns introspection off."""
    from strawberry.extensions import DisableIntrospection

    extensions: list[type] = [AuditOperation, MaskInternalErrors, DepthLimit, AliasLimit]
    if not introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Case, Borrower, Debt, Staff, Agency],
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = build_schema()
