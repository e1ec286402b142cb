"""recordNoticeDelivery: parse the receipt → call the notices service → map."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.common.ids import pk_of
from api.common.inputs import check_text, utc_instant
from api.common.types import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    refused,
)
from api.context import Info
from api.notices.types import Notice
from api.permissions import needs
from domain.errors import DomainError
from domain.notices import services
from domain.notices.errors import NoticeNotFound
from domain.notices.receipts import MAX_PROVIDER_REF, Receipt, ReceiptStatus
from store.audit import AuditAction

strawberry.enum(
    ReceiptStatus,
    name="NoticeReceiptStatus",
    description="What a delivery receipt reports: DELIVERED, or FAILED (it will not arrive).",
)


@strawberry.input(description="A delivery receipt from the notice gateway.")
class RecordNoticeDeliveryInput:
    notice_id: strawberry.ID = strawberry.field(
        description="The notice's ID (the gateway got it as `noticeId`)."
    )
    status: ReceiptStatus = strawberry.field(
        description="DELIVERED, or FAILED (it will not arrive)."
    )
    delivered_at: datetime | None = strawberry.field(
        default=None,
        description="When it was delivered (or failed), per the gateway; default: now. Not "
        "more than a minute ahead of our clock, nor more than a minute before the notice was "
        "sent, nor before it was queued.",
    )
    provider_ref: str | None = strawberry.field(
        default=None,
        description=f"The gateway's reference for the notice (at most {MAX_PROVIDER_REF} "
        "characters).",
    )


@strawberry.type
class RecordNoticeDeliverySuccess:
    notice: Notice = strawberry.field(description="The notice as it is after the receipt.")


RecordNoticeDeliveryPayload = Annotated[
    RecordNoticeDeliverySuccess
    | ValidationError
    | NotFoundError
    | RuleViolationError
    | ConflictError,
    strawberry.union("RecordNoticeDeliveryPayload"),
]


@strawberry.type
class NoticeMutation:
    @strawberry.mutation(
        description="Records a delivery receipt of a notice: SENT, or QUEUED once the outbox "
        "handed it to the gateway (attempts > 0), moves to DELIVERED or FAILED; the same "
        "receipt again answers the notice as it is; a receipt contradicting its final status "
        "(or for a SUPPRESSED notice, or a QUEUED one never handed to the gateway) is refused "
        "NOTICE_STATUS_INVALID. Every receipt is kept as evidence, refused ones too.",
        extensions=needs("notice:record_delivery"),
    )
    async def record_notice_delivery(
        self, info: Info, input: RecordNoticeDeliveryInput
    ) -> RecordNoticeDeliveryPayload:
        ctx = info.context
        pk = pk_of(input.notice_id, "Notice")
        check_text("input.providerRef", input.provider_ref)
        delivered_at = utc_instant("input.deliveredAt", input.delivered_at)
        try:
            if pk is None:
                raise NoticeNotFound("no such notice", field="noticeId")
            receipt = Receipt(pk, input.status, delivered_at, input.provider_ref)
            await ctx.release()
            notice = await services.record_delivery(
                ctx.unit_of_work, ctx.clock, ctx.viewer.id, receipt
            )
        except DomainError as error:
            return await refused(ctx, AuditAction.NOTICE_DELIVERY, error, "Notice", pk)
        row = await ctx.notices.load(notice.id)
        assert row is not None  # the notice just changed is in the caller's scope
        return RecordNoticeDeliverySuccess(notice=Notice.from_row(row))
