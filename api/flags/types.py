"""GraphQL types of flag work: BorrowerFlag and BorrowerFlagKind; ``Borrower.flags`` loads here."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.context import Info
from domain.flags.model import BorrowerFlag as DomainBorrowerFlag
from domain.flags.model import BorrowerFlagKind as DomainBorrowerFlagKind

if TYPE_CHECKING:
    from api.staff.types import Staff

strawberry.enum(
    DomainBorrowerFlagKind,
    name="BorrowerFlagKind",
    description="A special customer group (manual 5.3). What each flag stops is in the API "
    "guide's flag-effects table.",
)
BorrowerFlagKind = DomainBorrowerFlagKind


@strawberry.type(
    description="A flag set on a borrower: it covers every case of theirs until it is lifted."
)
class BorrowerFlag:
    flag: BorrowerFlagKind
    evidence_ref: str | None = strawberry.field(
        description="Reference of the evidence (a document, a court notice)."
    )
    note: str | None = strawberry.field(description="Why it was set.")
    set_at: datetime
    review_on: date | None = strawberry.field(
        description="When it is to be reviewed (a FLAG_REVIEW_DUE warning once it has passed)."
    )
    _set_by: strawberry.Private[int | None]

    @strawberry.field(description="Who set it.")
    async def set_by(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._set_by)

    @classmethod
    def from_domain(cls, flag: DomainBorrowerFlag) -> BorrowerFlag:
        return cls(
            flag=flag.flag,
            evidence_ref=flag.evidence_ref,
            note=flag.note,
            set_at=flag.set_at,
            review_on=flag.review_on,
            _set_by=flag.set_by,
        )


async def flags_of_borrower(info: Info, borrower_id: int) -> list[BorrowerFlag]:
    """Returns a borrower's active flags, oldest first (one statement per batch)."""
    found = await info.context.flags_of_borrower.load(borrower_id)
    return [BorrowerFlag.from_domain(f) for f in found]
