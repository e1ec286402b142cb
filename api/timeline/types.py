"""GraphQL type of a timeline entry: when, what, a summary, and links to who and what."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.ids import to_global_id
from api.common.pagination import Connection
from api.context import Info
from store.timeline_queries import Source, TimelineRow

if TYPE_CHECKING:
    from api.arrangements.types import PromiseToPay
    from api.contacts.types import Contact
    from api.payments.types import Payment
    from api.staff.types import Agency, Staff

# The global-ID type of each source's rows (contacts, promises and payments: their own nodes).
_ID_TYPES = {
    Source.CONTACT: "Contact",
    Source.PROMISE: "PromiseToPay",
    Source.PAYMENT: "Payment",
    Source.REVERSAL: "PaymentReversal",
    Source.EVENT: "CaseEvent",
}


@strawberry.type(
    description="One thing that happened on a case. `kind`: CONTACT, CONTACT_BLOCKED (an attempt "
    "a conduct rule refused), PROMISE, PAYMENT, PAYMENT_REVERSED, PAYMENT_REAPPLIED (applied "
    "again after an earlier payment was reversed), ASSIGNED, PLACED, RECALLED, RECLASSIFIED, "
    "TRANSITION (a move of the life cycle), COMPLAINT_FILED, COMPLAINT_RESOLVED, "
    "BORROWER_FLAGGED, BORROWER_UNFLAGGED, RESTRUCTURING (a plan proposed, approved, rejected, "
    "broken or completed, or a plan payment counted), LEGAL (a referral made, approved or "
    "rejected, or a legal action's step), WRITTEN_OFF, EVIDENCE_PACK (an evidence pack "
    "generated), TREATMENT (a segment entered or a strategy step taken), NOTICE (a notice sent, "
    "delivered or failed), TASK (a task completed or cancelled). The summary holds codes, "
    "amounts, dates and rule names only, never notes or contact details."
)
class TimelineEntry:
    id: strawberry.ID = strawberry.field(
        description="Unique in the timeline; a CONTACT's, PROMISE's or PAYMENT's is the ID of "
        "that contact, promise or payment."
    )
    at: datetime
    kind: str
    summary: str
    _row: strawberry.Private[TimelineRow]

    @strawberry.field(description="Who did it (null: the system, or staff you cannot see).")
    async def actor(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._row.actor_id)

    @strawberry.field(description="ASSIGNED: whom the case was given to.")
    async def assignee(
        self, info: Info
    ) -> Annotated[Staff, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_staff

        return await load_staff(info, self._row.assignee_id)

    @strawberry.field(description="PLACED, RECALLED: the agency.")
    async def agency(
        self, info: Info
    ) -> Annotated[Agency, strawberry.lazy("api.staff.types")] | None:
        from api.staff.types import load_agency

        return await load_agency(info, self._row.agency_id)

    @strawberry.field(description="CONTACT, CONTACT_BLOCKED: the contact.")
    async def contact(
        self, info: Info
    ) -> Annotated[Contact, strawberry.lazy("api.contacts.types")] | None:
        from api.contacts.types import Contact

        if self._row.contact_id is None:
            return None
        contact = await info.context.contacts.load(self._row.contact_id)
        return Contact.from_domain(contact) if contact else None

    @strawberry.field(description="PROMISE: the promise.")
    async def promise(
        self, info: Info
    ) -> Annotated[PromiseToPay, strawberry.lazy("api.arrangements.types")] | None:
        from api.arrangements.types import PromiseToPay

        if self._row.promise_id is None:
            return None
        promise = await info.context.promises.load(self._row.promise_id)
        return PromiseToPay.from_domain(promise) if promise else None

    @strawberry.field(description="PAYMENT, PAYMENT_REVERSED, PAYMENT_REAPPLIED: the payment.")
    async def payment(
        self, info: Info
    ) -> Annotated[Payment, strawberry.lazy("api.payments.types")] | None:
        from api.payments.types import Payment

        if self._row.payment_id is None:
            return None
        payment = await info.context.payments.load(self._row.payment_id)
        return Payment.from_domain(payment) if payment else None

    @classmethod
    def from_row(cls, row: TimelineRow) -> TimelineEntry:
        return cls(
            id=strawberry.ID(to_global_id(_ID_TYPES[row.source], row.id)),
            at=row.at,
            kind=row.kind.value,
            summary=row.summary,
            _row=row,
        )


@strawberry.type(
    name="TimelineConnection",
    description="A page of a case's timeline, newest first (Relay cursor connection; "
    "CONTRACT.md names it `TimelineConnection`).",
)
class TimelineConnection(Connection[TimelineEntry]):
    """``Connection[TimelineEntry]`` under the name the contract gives it."""
