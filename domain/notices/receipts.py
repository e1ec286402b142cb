"""A notice as its delivery receipts see it, and the moves a receipt makes (pure).

QUEUED or SENT → DELIVERED | FAILED (a receipt may beat the outbox's own mark, so QUEUED moves
too, once the outbox has handed it to the gateway: ``attempts`` > 0). DELIVERED, FAILED and
SUPPRESSED are final: a receipt repeating the final status is answered with the notice as it is
(idempotent, nothing changes); one contradicting it, or any receipt of a notice never sent
(SUPPRESSED, or QUEUED and never handed to the gateway), is refused NOTICE_STATUS_INVALID. Every
receipt is kept as evidence by the caller, refused ones too.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.notices.errors import NoticeReceiptInvalid, NoticeStatusInvalid
from domain.notices.events import NoticeDelivered, NoticeFailed
from domain.notices.model import NoticeStatus

# How far a receipt's ``deliveredAt`` may be ahead of the receiving clock, or before the instant
# the outbox recorded the gateway's answer (the gateway's clock is a little off ours, never a
# minute).
CLOCK_SKEW = timedelta(minutes=1)
# A provider's reference, as the ``notices.provider_ref`` column holds it.
MAX_PROVIDER_REF = 200
# The reason a failed receipt gives the notice (its ``NoticeFailed`` event).
UNDELIVERED = "UNDELIVERED"
FINAL = frozenset({NoticeStatus.DELIVERED, NoticeStatus.FAILED, NoticeStatus.SUPPRESSED})


class ReceiptStatus(enum.StrEnum):
    """What a delivery receipt reports."""

    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt as the gateway sent it (``delivered_at``: when it happened, per the
    gateway; None: when we receive it)."""

    notice_id: int
    status: ReceiptStatus
    delivered_at: datetime | None = None
    provider_ref: str | None = None


def provider_ref_of(value: str | None) -> str | None:
    """Returns a provider reference trimmed (None when blank), or refuses one too long to keep."""
    if value is None or not value.strip():
        return None
    ref = value.strip()
    if len(ref) > MAX_PROVIDER_REF:
        raise NoticeReceiptInvalid(
            f"providerRef is at most {MAX_PROVIDER_REF} characters", field="providerRef"
        )
    return ref


@dataclass(eq=False)
class Notice:
    """The fields of a notice its receipts read and change (``events``: what a receipt
    recorded, for the unit of work)."""

    id: int
    case_id: int
    status: NoticeStatus
    created_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    provider_ref: str | None = None
    attempts: int = 0  # times the outbox handed it to the gateway (0: it never reached it)
    version: int = 1
    events: list[object] = field(default_factory=list, repr=False)

    def receive(self, receipt: Receipt, now: datetime, actor_id: int | None) -> bool:
        """Applies a receipt received at ``now``: returns whether the notice changed (False: a
        repeat of its final status); refuses a contradicting receipt, or one of a notice never
        handed to the gateway (NOTICE_STATUS_INVALID), and a ``deliveredAt`` later than ``now``
        or earlier than the notice was sent (beyond the clock skew either way), or before the
        notice was queued."""
        at = receipt.delivered_at
        if at is not None and at > now + CLOCK_SKEW:
            raise NoticeReceiptInvalid("deliveredAt is in the future", field="deliveredAt")
        if at is not None and at < self.created_at:
            raise NoticeReceiptInvalid(
                "deliveredAt is before the notice was queued", field="deliveredAt"
            )
        if at is not None and self.sent_at is not None and at < self.sent_at - CLOCK_SKEW:
            raise NoticeReceiptInvalid(
                "deliveredAt is before the notice was sent", field="deliveredAt"
            )
        wanted = NoticeStatus(receipt.status.value)
        if self.status is NoticeStatus.SUPPRESSED:
            raise NoticeStatusInvalid(
                "the notice was suppressed and never sent: it has no delivery", field="status"
            )
        if self.status in FINAL:
            if self.status is wanted:
                return False
            raise NoticeStatusInvalid(
                f"the notice is {self.status.value} already; a {wanted.value} receipt "
                "contradicts it",
                field="status",
            )
        if self.status is NoticeStatus.QUEUED and self.attempts == 0:
            # The outbox never sent it: a receipt cannot be about it, and accepting one would
            # leave it final and unsent for good.
            raise NoticeStatusInvalid(
                "the notice has not been handed to the gateway yet", field="status"
            )
        when = min(at, now) if at is not None else now
        if self.sent_at is not None:
            when = max(when, self.sent_at)  # within the skew: not before it was sent
        ref = receipt.provider_ref or self.provider_ref
        self.status = wanted
        self.provider_ref = ref
        self.version += 1
        if wanted is NoticeStatus.DELIVERED:
            self.delivered_at = when
            self.events.append(NoticeDelivered(self.case_id, now, actor_id, self.id, ref))
        else:
            self.failed_at = when
            self.events.append(NoticeFailed(self.case_id, now, actor_id, self.id, UNDELIVERED))
        return True
