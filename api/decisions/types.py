"""GraphQL types of the decisions feed (the same fields as a line of ``arrears export
decisions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.common.ids import to_global_id
from domain.decisions import DecisionKind as DomainDecisionKind
from store.decisions import Decision as DecisionRow

strawberry.enum(
    DomainDecisionKind,
    name="DecisionKind",
    description="What was decided (docs/API.md lists the data of each kind).",
)
DecisionKind = DomainDecisionKind


@strawberry.type(
    description="A decision taken in collection that core banking or the credit bureau must "
    "book. No personal data: codes, dates and amounts (decimal strings beside their currency)."
)
class Decision:
    sequence: int = strawberry.field(
        description="Its place in the feed: increasing, each decision once."
    )
    at: datetime
    kind: DecisionKind
    case_id: strawberry.ID | None = strawberry.field(description="The case's global ID.")
    case_reference: str | None
    account_numbers: list[str] = strawberry.field(
        description="The account numbers of the case's debts (the core books by account)."
    )
    borrower_external_id: str | None = strawberry.field(
        description="The borrower's ID in the core banking system, when known."
    )
    actor: str = strawberry.field(description="Who decided: a staff login, or `system`.")
    data: JSON = strawberry.field(description="What the core needs of this kind of decision.")

    @classmethod
    def from_row(cls, row: DecisionRow) -> Decision:
        data: Any = dict(row.data)  # the JSON scalar's value
        return cls(
            sequence=row.id,
            at=row.at,
            kind=DomainDecisionKind(row.kind),
            case_id=strawberry.ID(to_global_id("Case", row.case_id))
            if row.case_id is not None
            else None,
            case_reference=row.case_reference,
            account_numbers=list(row.account_numbers),
            borrower_external_id=row.borrower_external_id,
            actor=row.actor_login or "system",
            data=data,
        )
