"""Use case of notice work: recordNoticeDelivery, one unit of work.

The receipt is kept whatever its fate (``notice_receipts``: evidence of what the gateway said),
so a refused receipt commits its record before the refusal is raised; an accepted one moves the
notice (``domain.notices.receipts``) and records NoticeDelivered or NoticeFailed, which the
timeline and the audit trail (NOTICE_DELIVERY) read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from domain.clock import Clock
from domain.errors import DomainError
from domain.notices.errors import NoticeNotFound
from domain.notices.ports import NoticesUnitOfWork
from domain.notices.receipts import Notice, Receipt, provider_ref_of

UowFactory = Callable[[], NoticesUnitOfWork]


async def record_delivery(
    uow_factory: UowFactory, clock: Clock, actor_id: int | None, receipt: Receipt
) -> Notice:
    """Records a delivery receipt of a notice whose case the caller may see; returns the notice
    as it is after it (unchanged for a repeat of its final status)."""
    receipt = replace(receipt, provider_ref=provider_ref_of(receipt.provider_ref))
    async with uow_factory() as uow:
        notice = await uow.notices.get(receipt.notice_id)
        if notice is None:
            raise NoticeNotFound("no such notice", field="noticeId")
        now = clock.now()
        await uow.notices.keep_receipt(receipt, now, actor_id)
        previous = notice.version
        try:
            changed = notice.receive(receipt, now, actor_id)
        except DomainError:
            await uow.commit()  # the receipt stays, as evidence of what was reported
            raise
        if changed:
            await uow.notices.save(notice, previous)
            for event in notice.events:
                uow.record(event)
            notice.events.clear()
        await uow.commit()
        return notice
