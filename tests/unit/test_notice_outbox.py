"""The outbox's rules (domain.notices.outbox) and delivery receipts (domain.notices.receipts and
the recordNoticeDelivery service, through an in-memory unit of work): boundaries included."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType

import pytest

from domain.clock import FixedClock
from domain.conduct.engine import Allowance, RuleCheck
from domain.contacts.model import ContactPointKind
from domain.notices import services
from domain.notices.errors import NoticeNotFound, NoticeReceiptInvalid, NoticeStatusInvalid
from domain.notices.events import NoticeDelivered, NoticeFailed
from domain.notices.model import NoticeStatus
from domain.notices.outbox import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    Answer,
    AtSend,
    Verdict,
    answer_of,
    at_send,
    collector_of,
    dispute_deadline,
    mask_account,
    mask_destination,
    retry_at,
)
from domain.notices.receipts import (
    CLOCK_SKEW,
    MAX_PROVIDER_REF,
    Notice,
    Receipt,
    ReceiptStatus,
    provider_ref_of,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
QUEUED_AT = NOW - timedelta(days=1)
LATER = NOW + timedelta(hours=6)


def allowance(*checks: RuleCheck, next_at: datetime | None = None) -> Allowance:
    allowed = all(c.passed for c in checks)
    return Allowance(allowed, NOW if allowed else next_at, None, checks, "CN-2026.1")


PASS = RuleCheck("OPTED_OUT", True, "not opted out")
QUIET = RuleCheck("QUIET_HOURS", False, "outside the allowed hours", LATER)
OPTED_OUT = RuleCheck("OPTED_OUT", False, "opted out", None)


def test_what_the_conduct_rules_make_of_a_queued_notice() -> None:
    assert at_send(allowance(PASS)) == AtSend(Verdict.SEND)
    # Refused by a rule that waiting lifts: kept until every rule passes.
    assert at_send(allowance(PASS, QUIET, next_at=LATER)) == AtSend(
        Verdict.DEFER, "QUIET_HOURS", LATER
    )
    # A rule waiting cannot lift wins, whatever the order.
    assert at_send(allowance(QUIET, OPTED_OUT)) == AtSend(Verdict.SUPPRESS, "OPTED_OUT")
    # Waitable, but no instant at which every rule passes: suppressed naming the rule.
    assert at_send(allowance(QUIET, next_at=None)) == AtSend(Verdict.SUPPRESS, "QUIET_HOURS")


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, Answer.ACCEPTED),
        (202, Answer.ACCEPTED),
        (299, Answer.ACCEPTED),
        (301, Answer.UNAVAILABLE),
        (400, Answer.REJECTED),
        (404, Answer.REJECTED),
        (408, Answer.UNAVAILABLE),
        (422, Answer.REJECTED),
        (429, Answer.UNAVAILABLE),
        (499, Answer.REJECTED),
        (500, Answer.UNAVAILABLE),
        (503, Answer.UNAVAILABLE),
    ],
)
def test_the_gateways_answers(status: int, answer: Answer) -> None:
    assert answer_of(status) is answer


def test_the_backoff_runs_out_after_the_last_delay() -> None:
    assert [retry_at(n, NOW) for n in range(1, MAX_ATTEMPTS)] == [NOW + d for d in RETRY_DELAYS]
    assert retry_at(1, NOW) == NOW + timedelta(minutes=1)
    assert retry_at(MAX_ATTEMPTS - 1, NOW) is not None
    assert retry_at(MAX_ATTEMPTS, NOW) is None
    with pytest.raises(ValueError, match="at least one failed attempt"):
        retry_at(0, NOW)


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        (ContactPointKind.PHONE, "13912345678", "****5678"),
        (ContactPointKind.PHONE, "+1 (212) 555-0199", "****0199"),
        (ContactPointKind.PHONE, "1234", "****"),  # too short to show any of it
        (ContactPointKind.EMAIL, "zhang.san@example.org", "z***@example.org"),
        (ContactPointKind.EMAIL, "@example.org", "****"),
        (ContactPointKind.ADDRESS, "上海市浦东新区测试路1号", "****"),
    ],
)
def test_destinations_are_masked(kind: ContactPointKind, value: str, shown: str) -> None:
    assert mask_destination(kind, value) == shown


def test_what_a_notice_states() -> None:
    assert mask_account("FX0000123456") == "****3456"
    assert mask_account("") == "****"
    assert dispute_deadline(date(2026, 3, 2)) == date(2026, 4, 6)
    assert collector_of("王五", "collector1", None, "zh") == ("王五", "collector1")
    assert collector_of(None, None, "Acme Recovery", "en") == ("Acme Recovery", "-")
    assert collector_of(None, None, None, "zh") == ("贷后管理部", "-")
    assert collector_of(None, None, None, "en") == ("Collections Department", "-")


# ---- receipts ----------------------------------------------------------------------------------


def sent(status: NoticeStatus = NoticeStatus.SENT) -> Notice:
    return Notice(1, 7, status, QUEUED_AT, sent_at=QUEUED_AT, provider_ref="gw-1")


def receipt(status: ReceiptStatus = ReceiptStatus.DELIVERED, **kw: object) -> Receipt:
    return Receipt(1, status, **kw)


def test_a_delivered_receipt_moves_a_sent_or_queued_notice_once() -> None:
    for start in (NoticeStatus.SENT, NoticeStatus.QUEUED):
        notice = sent(start)
        at = NOW - timedelta(minutes=3)
        assert notice.receive(receipt(delivered_at=at, provider_ref="gw-2"), NOW, 5) is True
        assert (notice.status, notice.delivered_at, notice.provider_ref, notice.version) == (
            NoticeStatus.DELIVERED,
            at,
            "gw-2",
            2,
        )
        assert notice.events == [NoticeDelivered(7, NOW, 5, 1, "gw-2")]
        # The same receipt again: nothing changes.
        notice.events.clear()
        assert notice.receive(receipt(), NOW, 5) is False
        assert notice.version == 2 and notice.events == []


def test_a_failed_receipt_and_contradictions() -> None:
    notice = sent()
    assert notice.receive(receipt(ReceiptStatus.FAILED), NOW, None) is True
    assert (notice.status, notice.failed_at, notice.provider_ref) == (
        NoticeStatus.FAILED,
        NOW,
        "gw-1",  # kept when the receipt names none
    )
    assert notice.events == [NoticeFailed(7, NOW, None, 1, "UNDELIVERED")]
    with pytest.raises(NoticeStatusInvalid, match="FAILED already"):
        notice.receive(receipt(ReceiptStatus.DELIVERED), NOW, None)
    with pytest.raises(NoticeStatusInvalid, match="never sent"):
        sent(NoticeStatus.SUPPRESSED).receive(receipt(), NOW, None)


def test_the_delivery_instant_boundaries() -> None:
    # Up to a minute ahead of our clock (taken as now); a moment more is refused.
    ahead = sent()
    assert ahead.receive(receipt(delivered_at=NOW + CLOCK_SKEW), NOW, None) is True
    assert ahead.delivered_at == NOW
    with pytest.raises(NoticeReceiptInvalid, match="future") as caught:
        sent().receive(receipt(delivered_at=NOW + CLOCK_SKEW + timedelta(seconds=1)), NOW, None)
    assert caught.value.field == "deliveredAt"
    # Not before the notice was queued; at that very instant is fine.
    assert sent().receive(receipt(delivered_at=QUEUED_AT), NOW, None) is True
    with pytest.raises(NoticeReceiptInvalid, match="before the notice was queued"):
        sent().receive(receipt(delivered_at=QUEUED_AT - timedelta(seconds=1)), NOW, None)


def test_provider_references() -> None:
    assert provider_ref_of(None) is None
    assert provider_ref_of("   ") is None
    assert provider_ref_of(" gw-1 ") == "gw-1"
    assert provider_ref_of("x" * MAX_PROVIDER_REF) == "x" * MAX_PROVIDER_REF
    with pytest.raises(NoticeReceiptInvalid, match="at most 200"):
        provider_ref_of("x" * (MAX_PROVIDER_REF + 1))


# ---- the service -------------------------------------------------------------------------------


class FakeNotices:
    def __init__(self, notices: list[Notice]) -> None:
        self.by_id = {notice.id: notice for notice in notices}
        self.kept: list[tuple[Receipt, datetime, int | None]] = []
        self.saved: list[tuple[int, int]] = []

    async def get(self, notice_id: int) -> Notice | None:
        found = self.by_id.get(notice_id)
        return replace(found, events=[]) if found is not None else None

    async def keep_receipt(
        self, receipt: Receipt, received_at: datetime, recorded_by: int | None
    ) -> None:
        self.kept.append((receipt, received_at, recorded_by))

    async def save(self, notice: Notice, previous_version: int) -> None:
        self.saved.append((notice.version, previous_version))
        self.by_id[notice.id] = notice


class FakeNoticesUnitOfWork:
    def __init__(self, notices: list[Notice]) -> None:
        self.notices = FakeNotices(notices)
        self.recorded: list[object] = []
        self.commits = 0
        self._pending: list[object] = []

    def record(self, event: object) -> None:
        self._pending.append(event)

    async def __aenter__(self) -> FakeNoticesUnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pending.clear()

    async def commit(self) -> None:
        self.commits += 1
        self.recorded.extend(self._pending)
        self._pending.clear()

    def factory(self) -> FakeNoticesUnitOfWork:
        return self


async def test_the_service_keeps_every_receipt_and_commits_once() -> None:
    uow = FakeNoticesUnitOfWork([sent()])
    clock = FixedClock(NOW)
    first = await services.record_delivery(
        uow.factory,
        clock,
        3,
        receipt(provider_ref=" gw-9 "),
    )
    assert (first.status, first.provider_ref) == (NoticeStatus.DELIVERED, "gw-9")
    assert uow.recorded == [NoticeDelivered(7, NOW, 3, 1, "gw-9")]
    assert uow.notices.saved == [(2, 1)] and uow.commits == 1
    # A repeat: kept, nothing saved or recorded.
    again = await services.record_delivery(uow.factory, clock, 3, receipt())
    assert again.status is NoticeStatus.DELIVERED and uow.notices.saved == [(2, 1)]
    # A contradiction: kept and committed, then refused.
    with pytest.raises(NoticeStatusInvalid):
        await services.record_delivery(
            uow.factory,
            clock,
            3,
            receipt(ReceiptStatus.FAILED),
        )
    assert [r.status for r, _, _ in uow.notices.kept] == [
        ReceiptStatus.DELIVERED,
        ReceiptStatus.DELIVERED,
        ReceiptStatus.FAILED,
    ]
    assert [r.provider_ref for r, _, _ in uow.notices.kept] == ["gw-9", None, None]
    assert uow.commits == 3 and len(uow.recorded) == 1
    # No such notice: nothing kept.
    with pytest.raises(NoticeNotFound):
        await services.record_delivery(uow.factory, clock, 3, Receipt(2, ReceiptStatus.FAILED))
    assert len(uow.notices.kept) == 3
