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
    set_at: datetime
    review_on: date | None = strawberry.field(
        description="When it is to be reviewed (a FLAG_REVIEW_DUE warning once it has passed)."
    )
    lifted_at: datetime | None = strawberry.field(
        description="When it was lifted (null while set; Borrower.flags lists only those set)."
    )
    _set_by: strawberry.Private[int | None]
    _evidence_ref: strawberry.Private[str | None]
    _note: strawberry.Private[str | None]

    @strawberry.field(
        description="Reference of the evidence (a document, a court notice); null unless your "
        "role works cases (contact:make)."
    )
    def evidence_ref(self, info: Info) -> str | None:
        return self._evidence_ref if info.context.may_read_notes() else None

    @strawberry.field(
        description="Why it was set; null unless your role works cases (contact:make)."
    )
    def note(self, info: Info) -> str | None:
        return self._note if info.context.may_read_notes() else None

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
            set_at=flag.set_at,
            review_on=flag.review_on,
            lifted_at=flag.lifted_at,
            _set_by=flag.set_by,
            _evidence_ref=flag.evidence_ref,
            _note=flag.note,
        )


async def flags_of_borrower(info: Info, borrower_id: int) -> list[BorrowerFlag]:
    """Returns a borrower's active flags, oldest first (one statement per batch)."""
    found = await info.context.flags_of_borrower.load(borrower_id)
    return [BorrowerFlag.from_domain(f) for f in found]
