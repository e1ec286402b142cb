"""GraphQL type of the data life cycle: LegalHold; ``Case.legalHolds`` loads here in batches."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.types import Node
from api.context import Info
from domain.retention.model import LegalHold as DomainLegalHold
from store.legal_holds_repository import hold_by_id

if TYPE_CHECKING:
    from api.staff.types import Staff

# Who reads legal holds (``Case.legalHolds``, ``node(id:)``).
READ = "legal_hold:read"
# Who reads a hold's reason in clear: those who place and release holds, and the roles that work
# cases (free text can say anything; everyone else gets null).
MANAGE = "legal_hold:manage"


@strawberry.type(
    description="A legal hold on a case: while it is in force (not released), the purge leaves "
    "every record of the case, and its borrower's personal data, as they are."
)
class LegalHold(Node):
    placed_at: datetime
    released_at: datetime | None = strawberry.field(description="Null while in force.")
    _reason: strawberry.Private[str]
    _placed_by: strawberry.Private[int | None]
    _released_by: strawberry.Private[int | None]

    @strawberry.field(description="Whether the hold is in force (not released).")
    def in_force(self) -> bool:
        return self.released_at is None

    @strawberry.field(
        description="Why it was placed; null unless your role manages legal holds "
        "(legal_hold:manage) or works cases (contact:make)."
    )
    def reason(self, info: Info) -> str | None:
        ctx = info.context
        return self._reason if ctx.allows(MANAGE) or ctx.may_read_notes() else None

    @strawberry.field(description="Who placed it.")
    async def placed_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._placed_by)

    @strawberry.field(description="Who released it (null while in force).")
    async def released_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._released_by)

    @classmethod
    def from_domain(cls, hold: DomainLegalHold) -> LegalHold:
        assert hold.id is not None
        return cls(
            id=strawberry.ID(to_global_id("LegalHold", hold.id)),
            placed_at=hold.placed_at,
            released_at=hold.released_at,
            _reason=hold.reason,
            _placed_by=hold.placed_by,
            _released_by=hold.released_by,
        )


async def legal_holds_of_case(info: Info, case_id: int) -> list[LegalHold]:
    """A case's legal holds, newest first (one statement per batch of cases)."""
    found = await info.context.legal_holds_of_case.load(case_id)
    return [LegalHold.from_domain(h) for h in found]


async def legal_hold_node(info: Info, pk: int) -> LegalHold | None:
    """A hold by id for ``node(id:)``: null without legal_hold:read, or when its case is not one
    the viewer may see."""
    ctx = info.context
    if not ctx.allows(READ):
        return None
    found = await ctx.read(lambda session: hold_by_id(session, pk, ctx.scope.case))
    if found is None:
        return None
    ctx.audit.saw_cases([found.case_id])
    return LegalHold.from_domain(found)
