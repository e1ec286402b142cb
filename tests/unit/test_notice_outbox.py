"""The outbox's rules (domain.notices.outbox: the verdicts at send and at a resend, the gateway's
answers, the backoff and the lease, the US federal holidays and the Reg F dispute deadline, the
overdue amount and the next instalment), the gateway's configuration and signature
(jobs.notice_gateways), and delivery receipts (domain.notices.receipts and the
recordNoticeDelivery service, through an in-memory unit of work): boundaries included."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
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
    AmountsDue,
    Answer,
    AtSend,
    Instalment,
    Verdict,
    add_business_days,
    amounts_due,
    answer_of,
    at_resend,
    at_send,
    attempts_ran_out,
    collector_of,
    dispute_deadline,
    lease_until,
    mask_account,
    mask_destination,
    retry_at,
    us_federal_holidays,
)
from domain.notices.receipts import (
    CLOCK_SKEW,
    MAX_PROVIDER_REF,
    Notice,
    Receipt,
    ReceiptStatus,
    provider_ref_of,
)
from jobs.notice_gateways import Outgoing, WebhookAdapter, webhook_problem

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


def test_a_notice_already_handed_over_is_held_back_only_by_waiting() -> None:
    assert at_resend(allowance(PASS)) == AtSend(Verdict.SEND)
    # Never suppressed: an opt-out since does not stop a resend of what the gateway may have.
    assert at_resend(allowance(OPTED_OUT)) == AtSend(Verdict.SEND)
    # The quiet hours still hold it back, whatever else refuses.
    assert at_resend(allowance(QUIET, OPTED_OUT)) == AtSend(Verdict.DEFER, "QUIET_HOURS", LATER)
    later_still = RuleCheck("QUIET_HOURS", False, "outside the hours", LATER + timedelta(hours=1))
    assert at_resend(allowance(QUIET, later_still)).not_before == LATER + timedelta(hours=1)


def test_the_lease_of_an_attempt_and_when_attempts_run_out() -> None:
    assert lease_until(1, NOW) == NOW + RETRY_DELAYS[0]
    assert lease_until(MAX_ATTEMPTS - 1, NOW) == NOW + RETRY_DELAYS[-1]
    assert lease_until(MAX_ATTEMPTS, NOW) == NOW + RETRY_DELAYS[-1]
    with pytest.raises(ValueError, match="at least one attempt"):
        lease_until(0, NOW)
    assert not attempts_ran_out(MAX_ATTEMPTS - 1)
    assert attempts_ran_out(MAX_ATTEMPTS) and attempts_ran_out(MAX_ATTEMPTS + 1)


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
    assert collector_of("王五", "collector1", None, "zh") == ("王五", "collector1")
    assert collector_of(None, None, "Acme Recovery", "en") == ("Acme Recovery", "-")
    assert collector_of(None, None, None, "zh") == ("贷后管理部", "-")
    assert collector_of(None, None, None, "en") == ("Collections Department", "-")


# ---- dates and amounts -------------------------------------------------------------------------


def test_the_us_federal_holidays_of_2026_and_2027() -> None:
    assert sorted(us_federal_holidays(2026)) == [
        date(2026, 1, 1),  # New Year's Day, a Thursday
        date(2026, 1, 19),  # Martin Luther King, Jr.: third Monday of January
        date(2026, 2, 16),  # Washington's Birthday: third Monday of February
        date(2026, 5, 25),  # Memorial Day: last Monday of May
        date(2026, 6, 19),  # Juneteenth, a Friday
        date(2026, 7, 3),  # Independence Day observed: the 4th is a Saturday
        date(2026, 7, 4),
        date(2026, 9, 7),  # Labor Day: first Monday of September
        date(2026, 10, 12),  # Columbus Day: second Monday of October
        date(2026, 11, 11),  # Veterans Day, a Wednesday
        date(2026, 11, 26),  # Thanksgiving: fourth Thursday of November
        date(2026, 12, 25),  # Christmas Day, a Friday
    ]
    assert sorted(us_federal_holidays(2027)) == [
        date(2027, 1, 1),
        date(2027, 1, 18),
        date(2027, 2, 15),
        date(2027, 5, 31),
        date(2027, 6, 18),  # Juneteenth observed: the 19th is a Saturday
        date(2027, 6, 19),
        date(2027, 7, 4),
        date(2027, 7, 5),  # Independence Day observed: the 4th is a Sunday
        date(2027, 9, 6),
        date(2027, 10, 11),
        date(2027, 11, 11),
        date(2027, 11, 25),
        date(2027, 12, 24),  # Christmas observed: the 25th is a Saturday
        date(2027, 12, 25),
        date(2027, 12, 31),  # New Year's Day 2028 (a Saturday) observed
    ]
    # 2028's own list does not repeat 31 December 2027.
    assert min(us_federal_holidays(2028)) == date(2028, 1, 1)


def test_business_days_skip_weekends_and_holidays() -> None:
    assert add_business_days(date(2026, 3, 2), 5) == date(2026, 3, 9)  # Monday → Monday
    assert add_business_days(date(2026, 3, 6), 1) == date(2026, 3, 9)  # Friday → Monday
    assert add_business_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # Saturday → Monday
    assert add_business_days(date(2026, 3, 2), 0) == date(2026, 3, 2)
    # Thursday 2 July 2026: Friday 3 (observed) and the weekend are skipped.
    assert add_business_days(date(2026, 7, 2), 1) == date(2026, 7, 6)
    # Across the year: Thursday 30 December 2027, Friday 31 observed, 2028's New Year weekend.
    assert add_business_days(date(2027, 12, 30), 1) == date(2028, 1, 3)
    with pytest.raises(ValueError):
        add_business_days(date(2026, 3, 2), -1)


@pytest.mark.parametrize(
    ("sent_on", "profile", "deadline"),
    [
        # Monday: received Monday 9 March, 30 days later.
        (date(2026, 3, 2), "US_REG_F", date(2026, 4, 8)),
        # Sunday: Monday to Friday count.
        (date(2026, 3, 1), "US_REG_F", date(2026, 4, 5)),
        # Tuesday 30 June 2026: 3 July (observed) is no business day: received 8 July.
        (date(2026, 6, 30), "US_REG_F", date(2026, 8, 7)),
        # Thanksgiving week 2026: Thursday 26 is skipped, received Thursday 3 December.
        (date(2026, 11, 25), "US_REG_F", date(2027, 1, 2)),
        # Wednesday 22 December 2027: 24 and 31 observed: received Thursday 30 December...
        (date(2027, 12, 22), "US_REG_F", date(2028, 1, 29)),
        # ...while a CN notice counts weekdays only: received Wednesday 29 December.
        (date(2027, 12, 22), "CN", date(2028, 1, 28)),
        (date(2026, 7, 2), "CN", date(2026, 8, 8)),
    ],
)
def test_the_dispute_deadline(sent_on: date, profile: str, deadline: date) -> None:
    assert dispute_deadline(sent_on, profile) == deadline


AS_OF = date(2026, 3, 2)


def instalment(due: date, amount: str, paid: str = "0.00") -> Instalment:
    return Instalment(due, Decimal(amount), Decimal(paid))


def test_the_overdue_amount_and_the_next_instalment() -> None:
    rows = [
        instalment(date(2026, 1, 15), "1500.00", "500.00"),
        instalment(AS_OF, "1500.00"),  # due today: overdue
        instalment(AS_OF + timedelta(days=1), "1500.00", "200.00"),  # tomorrow: the next
        instalment(AS_OF + timedelta(days=1), "300.00"),  # another debt's, the same day
        instalment(AS_OF + timedelta(days=31), "1500.00"),
    ]
    assert amounts_due(rows, AS_OF) == AmountsDue(
        Decimal("2500.00"), AS_OF + timedelta(days=1), Decimal("1600.00")
    )
    # Overpaid instalments count as nothing owed, never as a credit; paid ones are not next.
    paid = [
        instalment(date(2026, 1, 15), "1500.00", "1600.00"),
        instalment(AS_OF + timedelta(days=5), "1500.00", "1500.00"),
    ]
    assert amounts_due(paid, AS_OF) == AmountsDue(Decimal(0), None, None)
    assert amounts_due([], AS_OF) == AmountsDue(Decimal(0), None, None)


# ---- the gateway's configuration and signature -------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secret", "development", "problem"),
    [
        ("https://gw.example.org/notices", "s", False, None),
        ("http://127.0.0.1:9000/notices", None, True, None),
        ("http://gw.example.org/notices", "s", False, "must be https outside"),
        ("https://gw.example.org/notices", None, False, "SECRET must be set outside"),
        ("https://gw.example.org/notices", "", False, "SECRET must be set outside"),
        ("ftp://gw.example.org/notices", "s", True, "an http(s) URL with a host"),
        ("https:///notices", "s", False, "an http(s) URL with a host"),
        ("gw.example.org/notices", "s", True, "an http(s) URL with a host"),
        ("http://[::1/notices", "s", True, "is not a URL"),
    ],
)
def test_what_makes_a_gateway_unusable(
    url: str, secret: str | None, development: bool, problem: str | None
) -> None:
    found = webhook_problem(url, secret, development=development)
    assert found == problem if problem is None else problem in (found or "")


async def test_a_request_is_signed_over_the_timestamp_the_key_and_the_body() -> None:
    message = Outgoing(12, "SMS", "13900001234", ContactPointKind.PHONE, "zh", None, "正文", "R-1")
    url = "https://gw.example.org/n"
    async with WebhookAdapter(url, "k3y", clock=lambda: 1_767_225_600.9) as gateway:
        body, headers = gateway.request(message)
    assert headers["X-Arrears-Timestamp"] == "1767225600"
    assert headers["Idempotency-Key"] == "notice-12"
    signed = b"1767225600.notice-12." + body
    expected = hmac.new(b"k3y", signed, hashlib.sha256).hexdigest()
    assert headers["X-Arrears-Signature"] == f"sha256={expected}"
    async with WebhookAdapter("https://gw.example.org/n") as unsigned:
        assert "X-Arrears-Signature" not in unsigned.request(message)[1]


# ---- receipts ----------------------------------------------------------------------------------


def sent(status: NoticeStatus = NoticeStatus.SENT) -> Notice:
    return Notice(1, 7, status, QUEUED_AT, sent_at=QUEUED_AT, provider_ref="gw-1", attempts=1)


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


def test_a_delivery_before_the_notice_was_sent_is_refused() -> None:
    sent_at = QUEUED_AT + timedelta(hours=2)

    def later() -> Notice:
        return Notice(1, 7, NoticeStatus.SENT, QUEUED_AT, sent_at=sent_at)

    # Within a minute before (the clocks differ a little): taken as the instant it was sent.
    notice = later()
    assert notice.receive(receipt(delivered_at=sent_at - CLOCK_SKEW), NOW, None) is True
    assert notice.delivered_at == sent_at
    for status in ReceiptStatus:
        with pytest.raises(NoticeReceiptInvalid, match="before the notice was sent") as caught:
            early = sent_at - CLOCK_SKEW - timedelta(seconds=1)
            later().receive(receipt(status, delivered_at=early), NOW, None)
        assert caught.value.field == "deliveredAt"
    # Handed to the gateway, its sending not recorded yet (a receipt beating the outbox's own
    # mark): only the queueing bounds it.
    queued = Notice(1, 7, NoticeStatus.QUEUED, QUEUED_AT, attempts=1)
    assert queued.receive(receipt(delivered_at=QUEUED_AT), NOW, None) is True


def test_a_receipt_of_a_notice_never_handed_to_the_gateway_is_refused() -> None:
    for status in ReceiptStatus:
        never = Notice(1, 7, NoticeStatus.QUEUED, QUEUED_AT)
        with pytest.raises(NoticeStatusInvalid, match="not been handed to the gateway") as caught:
            never.receive(receipt(status, provider_ref="gw-3"), NOW, None)
        assert caught.value.field == "status"
        assert (never.status, never.version, never.provider_ref, never.events) == (
            NoticeStatus.QUEUED,
            1,
            None,
            [],
        )
    # Once handed to the gateway (one attempt), the same receipt moves it.
    tried = Notice(1, 7, NoticeStatus.QUEUED, QUEUED_AT, attempts=1)
    assert tried.receive(receipt(ReceiptStatus.FAILED), NOW, None) is True
    assert tried.status is NoticeStatus.FAILED


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


async def test_the_service_keeps_the_receipt_of_a_notice_never_sent() -> None:
    uow = FakeNoticesUnitOfWork([Notice(1, 7, NoticeStatus.QUEUED, QUEUED_AT)])
    with pytest.raises(NoticeStatusInvalid):
        await services.record_delivery(uow.factory, FixedClock(NOW), 3, receipt())
    assert [r.status for r, _, _ in uow.notices.kept] == [ReceiptStatus.DELIVERED]
    assert uow.commits == 1 and uow.notices.saved == [] and uow.recorded == []
    assert uow.notices.by_id[1].status is NoticeStatus.QUEUED
