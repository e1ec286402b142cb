"""GraphQL types of notices: Notice (never its body, subject or address)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

import api.contacts.types  # noqa: F401 - registers ContactChannel and ContactParty
from api.common.ids import to_global_id
from api.common.types import Node
from api.context import Info
from domain.contacts.model import ContactChannel, ContactParty
from domain.notices.model import NoticeStatus as DomainNoticeStatus
from store.notice_queries import NoticeRow

if TYPE_CHECKING:
    from api.cases.types import Case

strawberry.enum(
    DomainNoticeStatus,
    name="NoticeStatus",
    description="Where a notice is: QUEUED (in the outbox), SENT (the gateway took it), "
    "DELIVERED or FAILED (the outbox gave up, or a receipt said so), SUPPRESSED (a rule stopped "
    "it; never sent).",
)
NoticeStatus = DomainNoticeStatus


@strawberry.type(
    description="A message a strategy step queued for a case's borrower (or guarantor): "
    "QUEUED in the outbox until `arrears outbox` hands it to the gateway (SENT), then DELIVERED "
    "or FAILED as the gateway's receipts say (recordNoticeDelivery); SUPPRESSED when a rule "
    "stopped it (named in `rule`). Visible with its case. Its text and address are kept as "
    "evidence (the evidence pack has its digest) and never shown here."
)
class Notice(Node):
    channel: ContactChannel = strawberry.field(description="SMS, EMAIL or LETTER.")
    party: ContactParty = strawberry.field(description="Whom it is addressed to.")
    template: str = strawberry.field(description="The template's name, e.g. PAYMENT_REMINDER.")
    template_version: str = strawberry.field(
        description="The template version's label it is rendered from (the one in effect when "
        "it was queued, even after a later version took effect)."
    )
    language: str = strawberry.field(description="The language of its text (zh, en).")
    status: str = strawberry.field(description="QUEUED, SENT, DELIVERED, FAILED or SUPPRESSED.")
    rule: str | None = strawberry.field(
        description="What suppressed or failed it: a protection (OPEN_COMPLAINT, "
        "CEASE_COMMUNICATION, FLAG_<KIND>), a conduct rule (OPTED_OUT, CONTACT_POINT_INVALID, "
        "QUIET_HOURS…), the life cycle (CASE_CLOSED, CASE_ON_HOLD), NO_CONTACT_POINT, "
        "NOTHING_OWED (the case owed nothing at send), STALE (queued over 3 days before the "
        "outbox took it), NO_APPROVED_TEMPLATE, RENDER_FAILED (its template version failed to "
        "render it) or GATEWAY_REJECTED; null otherwise (and for a receipt's failure)."
    )
    not_before: datetime | None = strawberry.field(
        description="A QUEUED notice is not sent before this instant (the recipient's quiet "
        "hours, or the gateway's retry delay)."
    )
    created_at: datetime = strawberry.field(description="When it was queued.")
    sent_at: datetime | None = strawberry.field(
        description="When the gateway took it (its answer, as the outbox recorded it)."
    )
    delivered_at: datetime | None = strawberry.field(
        description="When it was delivered, as its receipt said."
    )
    failed_at: datetime | None = strawberry.field(
        description="When it FAILED: the outbox gave up on it (rule GATEWAY_REJECTED, "
        "NO_APPROVED_TEMPLATE, RENDER_FAILED), or a receipt said it was not delivered."
    )
    provider_ref: str | None = strawberry.field(
        description="The gateway's reference for it (from its answer or a receipt)."
    )
    body_digest: str | None = strawberry.field(
        description="SHA-256 (hex) of what was sent: the subject, a newline and the body (the "
        "body alone without a subject)."
    )
    attempts: int = strawberry.field(
        description="How many times it was handed to the gateway (counted as each request "
        "starts: one whose answer was lost counts too)."
    )
    _case_id: strawberry.Private[int]

    @strawberry.field(description="The case it is about.")
    async def case(self, info: Info) -> Annotated[Case, strawberry.lazy("api.cases.types")]:
        from api.cases.types import Case

        case = await info.context.cases.load(self._case_id)
        assert case is not None  # a notice in scope is on a case in scope
        info.context.audit.saw_cases([self._case_id])
        return Case.from_domain(case)

    @classmethod
    def from_row(cls, row: NoticeRow) -> Notice:
        return cls(
            id=strawberry.ID(to_global_id("Notice", row.id)),
            channel=ContactChannel(row.channel),
            party=ContactParty(row.party),
            template=row.template,
            template_version=row.template_version,
            language=row.language,
            status=row.status,
            rule=row.rule,
            not_before=row.not_before,
            created_at=row.created_at,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
            failed_at=row.failed_at,
            provider_ref=row.provider_ref,
            body_digest=row.body_digest,
            attempts=row.attempts,
            _case_id=row.case_id,
        )


async def notice_node(info: Info, pk: int) -> Notice | None:
    """Returns a notice whose case the viewer can see (``node(id:)``, to notice:read), else
    None."""
    if not info.context.allows("notice:read"):
        return None
    row = await info.context.notices.load(pk)
    return Notice.from_row(row) if row is not None else None
