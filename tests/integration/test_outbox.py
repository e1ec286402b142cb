"""``run_outbox`` against a real gateway on loopback: sent notices arrive rendered (the overdue
amount, the balance, the next instalment, the addresses, the Reg F items), signed over the
timestamp, key and body, and keyed; an unavailable gateway is tried again after the backoff with
the text it was first sent (never rendered again), and a refusal fails the notice; a gateway
down stops the run after three answers; a slow gateway times out as a whole; quiet hours defer
an SMS, also when they begin during the batch; protections, opt-outs, a closed case, a case
that owes nothing and a stale notice suppress at send — but never a notice already handed over;
a template version that fails at render fails its notice only; a run that dies after handing a
notice over leaves it counted, with its text, and the next resends that text; the check's
decisions are audited with it; the print adapter masks the destination; a second run sends
nothing twice. On a fresh database of the backend under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import FixedClock
from domain.contacts.model import ContactPointKind
from jobs.locks import JobLocked, job_lock
from jobs.notice_gateways import MAX_ANSWER_BYTES, Outgoing, PrintAdapter, Reply, WebhookAdapter
from jobs.outbox import NO_ANSWER_RECORDED, OutboxResult, run_outbox
from store import tables
from tests.daily_support import AUDIT_KEY, MovableClock
from tests.factories import Factory, MadeCase, writing
from tests.notices_support import (
    FakeGateway,
    Received,
    contact_point,
    gateway_server,
    insert_notice,
    set_schedule,
)

SECRET = "gateway-shared-secret"
# 10:00 in Shanghai, 21:00 (the day before) in New York: inside the CN profile's hours.
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
# 23:00 in Shanghai: the CN quiet hours (22:00-08:00); they end at 00:00 UTC.
LATE = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
LENDER = "示范消费金融有限公司"
n, ev, a = tables.notices.c, tables.case_events.c, tables.audit_entries.c
# Due before, due before and partly paid, due after the notice's date (2026-03-02 in Shanghai).
SCHEDULE = [
    (date(2026, 1, 15), "1500.00", "500.00"),
    (date(2026, 2, 15), "1500.00", "0.00"),
    (date(2026, 3, 15), "1500.00", "0.00"),
]


@pytest.fixture
async def factory(migrated: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(migrated)
    yield made
    await made.cleanup()


async def notice(engine: AsyncEngine, pk: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(tables.notices).where(n.id == pk))).one()


async def events(engine: AsyncEngine, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with engine.connect() as conn:
        stmt = select(ev.name, ev.data).where(ev.case_id == case_id).order_by(ev.id)
        return [(name, dict(data)) for name, data in (await conn.execute(stmt)).all()]


async def send_entries(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        stmt = select(a.changes, a.case_ids).where(a.action == "notice.send").order_by(a.id)
        return list((await conn.execute(stmt)).all())


async def run(engine: AsyncEngine, gateway: FakeGateway, at: datetime, **kw: Any) -> OutboxResult:
    async with WebhookAdapter(gateway.url, SECRET, timeout=2.0) as adapter:
        return await run_outbox(engine, FixedClock(at), AUDIT_KEY, adapter, **kw)


async def sms_case(factory: Factory, **shape: Any) -> tuple[MadeCase, Any]:
    made = await factory.case(assignee=None, **shape)
    point = await contact_point(factory, made)
    return made, point


async def change(engine: AsyncEngine, table: Any, pk: int, **values: Any) -> None:
    async with writing(engine) as conn:
        await conn.execute(update(table).where(table.c.id == pk).values(**values))


def counts(result: OutboxResult) -> tuple[int, int, int, int, int]:
    return result.sent, result.deferred, result.suppressed, result.failed, result.retrying


def changes(stage: str, **ids: list[int]) -> dict[str, Any]:
    """An audit entry's ``changes`` of that stage with those ids by outcome."""
    names = ("sent", "deferred", "suppressed", "failed", "retrying")
    found: dict[str, Any] = {"stage": stage, **{k: ids.get(k, []) for k in names}}
    found["counts"] = {k: len(ids.get(k, [])) for k in names}
    return found


async def test_sent_notices_arrive_rendered_signed_and_keyed_once(
    migrated: AsyncEngine, factory: Factory
) -> None:
    collector = await factory.staff("notice.collector")
    made = await factory.case(assignee=collector.login)
    await set_schedule(migrated, made, SCHEDULE)
    phone = await contact_point(factory, made, value="13900001234")
    email = await contact_point(factory, made, kind="EMAIL", value="zhang.san@example.org")
    sms = await insert_notice(migrated, made, phone.id)
    mail = await insert_notice(
        migrated, made, email.id, channel="EMAIL", template="PAYMENT_REMINDER_EMAIL"
    )
    with gateway_server() as gateway:
        result = await run(migrated, gateway, MORNING)
        assert counts(result) == (2, 0, 0, 0, 0) and result.batches == 1
        assert not result.gateway_unavailable and result.untried == 0
        received = {r.json["noticeId"]: r for r in gateway.received}
        assert sorted(received) == [str(sms), str(mail)]
        first = received[str(sms)]
        # Signed with the shared secret over the timestamp, the key and the exact bytes.
        key, stamp = first.headers["idempotency-key"], first.headers["x-arrears-timestamp"]
        assert key == f"notice-{sms}" and abs(int(stamp) - datetime.now(UTC).timestamp()) < 60
        signed = f"{stamp}.{key}.".encode() + first.body
        expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert first.headers["x-arrears-signature"] == f"sha256={expected}"
        account = made.debts[0].account_number
        # The overdue amount: 1,000.00 left of January's instalment and February's 1,500.00;
        # March's is not due yet.
        body = (
            f"【{LENDER}】{made.borrower.full_name}您好，您的借款（账号****{account[-4:]}）"
            f"已逾期{made.case.days_past_due}天，截至2026年3月2日逾期金额2,500.00元。请尽快还款；"
            f"如还款确有困难，请致电400-800-1234与我们协商。催收专员：{collector.name}"
            "（工号notice.collector）。回复TD退订"
        )
        assert first.json == {
            "noticeId": str(sms),
            "channel": "SMS",
            "to": "13900001234",
            "language": "zh",
            "subject": None,
            "body": body,
            "caseReference": made.case.reference,
        }
        second = received[str(mail)].json
        assert second["to"] == "zhang.san@example.org" and second["channel"] == "EMAIL"
        assert second["subject"] == f"【{LENDER}】还款提醒（案件编号{made.case.reference}）"
        balance = f"{made.case.outstanding_amount:,.2f}元"
        assert f"逾期未还金额为2,500.00元，借款余额合计{balance}。" in second["body"]

        stored = await notice(migrated, sms)
        assert (stored.status, stored.sent_at, stored.provider_ref, stored.attempts) == (
            "SENT",
            MORNING,
            f"gw-notice-{sms}",
            1,
        )
        assert (stored.body, stored.subject, stored.not_before) == (body, None, None)
        assert stored.body_digest == hashlib.sha256(body.encode()).hexdigest()
        mailed = await notice(migrated, mail)
        digest = hashlib.sha256(f"{second['subject']}\n{second['body']}".encode()).hexdigest()
        assert (mailed.status, mailed.body_digest) == ("SENT", digest)
        assert await events(migrated, made.case.id) == [
            (
                "NoticeSent",
                {
                    "notice_id": pk,
                    "channel": channel,
                    "template": template,
                    "template_version": "2026.1",
                },
            )
            for pk, channel, template in (
                (sms, "SMS", "PAYMENT_REMINDER"),
                (mail, "EMAIL", "PAYMENT_REMINDER_EMAIL"),
            )
        ]
        # The check decided nothing (no entry of its own); the sends' one entry.
        [entry] = await send_entries(migrated)
        assert entry.case_ids == [made.case.id]
        assert entry.changes == changes("send", sent=[sms, mail])
        assert body not in json.dumps(entry.changes) and "13900001234" not in str(entry)

        # A second run finds nothing due: nothing is sent twice.
        again = await run(migrated, gateway, MORNING + timedelta(hours=1))
        assert counts(again) == (0, 0, 0, 0, 0) and again.batches == 0
        assert len(gateway.received) == 2
        assert len(await send_entries(migrated)) == 1


async def test_a_letter_states_the_addresses_and_the_reg_f_items(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(assignee=None, portfolio="us-cards")
    await change(migrated, tables.cases, made.case.id, currency="USD")
    await set_schedule(migrated, made, SCHEDULE)
    address = await contact_point(factory, made, kind="ADDRESS", value="12 Elm St, Dover, DE")
    opened = made.case.opened_on
    debt = made.debts[0]
    async with writing(migrated) as conn:
        await conn.execute(
            insert(tables.debt_snapshots).values(
                debt_id=debt.id,
                as_of=opened,
                case_id=made.case.id,
                portfolio="us-cards",
                product_type="CONSUMER_LOAN",
                currency="USD",
                balance=Decimal("21400.00"),
                principal=Decimal("20000.00"),
                days_past_due=0,
                bucket="M0",
                classification="NORMAL",
                status="CURRENT",
            )
        )
        new_york = datetime(opened.year, opened.month, opened.day, 12, tzinfo=UTC)
        for at, amount, reversed_ in (
            (new_york, "100.00", False),  # on the itemization date: in its balance already
            (new_york + timedelta(days=3), "250.00", False),
            (new_york + timedelta(days=4), "75.00", True),  # reversed: not a payment
        ):
            await conn.execute(
                insert(tables.payments).values(
                    case_id=made.case.id,
                    debt_id=debt.id,
                    amount=Decimal(amount),
                    currency="USD",
                    paid_at=at,
                    reference=f"P-{made.case.id}-{amount}",
                    source="CORE",
                    created_at=at,
                    reversed=reversed_,
                    version=1,
                )
            )
    letter = await insert_notice(
        migrated,
        made,
        address.id,
        channel="LETTER",
        template="VALIDATION_NOTICE",
        language="en",
        purpose="VALIDATION",
    )
    with gateway_server() as gateway:
        assert counts(await run(migrated, gateway, MORNING)) == (1, 0, 0, 0, 0)
        [request] = gateway.received
    body = request.json["body"]
    assert request.json["to"] == "12 Elm St, Dover, DE"
    # 21:00 on Sunday 1 March in New York: the notice is dated then; 5 business days later
    # (2 to 6 March) it is assumed received, and the dispute period ends 30 days after that.
    assert "To: " + made.borrower.full_name + "\n12 Elm St, Dover, DE\n" in body
    assert "1 Example Plaza, Suite 100, Wilmington, DE 19801" in body
    assert f"As of {opened:%B} {opened.day}, {opened.year}, you owed: $21,400.00" in body
    assert "You paid or were credited this amount toward the debt: - $250.00" in body
    assert "charged this amount in interest: + $0.00" in body
    assert f"Total amount of the debt now: ${made.case.outstanding_amount:,.2f}" in body
    assert "If you write by April 5, 2026, we must stop collection" in body
    assert (await notice(migrated, letter)).status == "SENT"


async def test_an_unavailable_gateway_is_tried_again_with_the_text_first_sent(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
    await set_schedule(migrated, made, SCHEDULE)
    pk = await insert_notice(migrated, made, point.id)
    statuses = iter([500, 503, 202])

    def answer(request: Received) -> tuple[int, dict[str, Any]]:
        return next(statuses), {"id": "provider-77"}

    with gateway_server() as gateway:
        gateway.answer = answer
        assert counts(await run(migrated, gateway, MORNING)) == (0, 0, 0, 0, 1)
        stored = await notice(migrated, pk)
        assert (stored.status, stored.attempts, stored.last_error) == ("QUEUED", 1, "HTTP 500")
        assert stored.not_before == MORNING + timedelta(minutes=1)
        first_text = (stored.body, stored.body_digest)
        assert "2,500.00元" in stored.body
        # The case changes meanwhile: the retry still says what the first attempt said.
        await set_schedule(migrated, made, [(date(2026, 1, 15), "1500.00", "1500.00")])
        # Not due before the backoff has passed.
        assert counts(await run(migrated, gateway, MORNING + timedelta(seconds=59))) == (
            0, 0, 0, 0, 0,
        )  # fmt: skip
        second = MORNING + timedelta(minutes=1)
        assert counts(await run(migrated, gateway, second)) == (0, 0, 0, 0, 1)
        stored = await notice(migrated, pk)
        assert (stored.attempts, stored.not_before) == (2, second + timedelta(minutes=5))
        third = second + timedelta(minutes=5)
        assert counts(await run(migrated, gateway, third)) == (1, 0, 0, 0, 0)
        # The same key and the same text every time: the gateway can tell a repeat.
        keys = [r.headers["idempotency-key"] for r in gateway.received]
        assert keys == [f"notice-{pk}"] * 3
        assert {r.json["body"] for r in gateway.received} == {first_text[0]}
    stored = await notice(migrated, pk)
    assert (stored.status, stored.attempts, stored.provider_ref, stored.last_error) == (
        "SENT",
        3,
        "provider-77",
        None,
    )
    assert (stored.body, stored.body_digest) == first_text and stored.sent_at == third


async def test_the_last_attempt_and_a_refusal_fail_the_notice(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
    exhausted = await insert_notice(migrated, made, point.id, attempts=5)
    refused = await insert_notice(migrated, made, point.id)
    throttled = await insert_notice(migrated, made, point.id)
    answers = {
        f"notice-{exhausted}": 502,
        f"notice-{refused}": 400,
        f"notice-{throttled}": 429,
    }
    with gateway_server() as gateway:
        gateway.answer = lambda request: (answers[request.headers["idempotency-key"]], {})
        assert counts(await run(migrated, gateway, MORNING)) == (0, 0, 0, 2, 1)
    for pk, error, attempts in ((exhausted, "HTTP 502", 6), (refused, "HTTP 400", 1)):
        stored = await notice(migrated, pk)
        assert (stored.status, stored.rule, stored.last_error, stored.attempts) == (
            "FAILED",
            "GATEWAY_REJECTED",
            error,
            attempts,
        )
        # What was handed over is kept; it is no longer waiting for anything.
        assert stored.failed_at == MORNING and stored.body is not None
        assert stored.not_before is None and stored.sent_at is None
    assert (await notice(migrated, throttled)).status == "QUEUED"  # 429: tried again later
    assert await events(migrated, made.case.id) == [
        ("NoticeFailed", {"notice_id": pk, "reason": "GATEWAY_REJECTED"})
        for pk in sorted((exhausted, refused))
    ]


async def test_a_gateway_down_stops_the_run_and_leaves_the_rest_untouched(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
    ids = [await insert_notice(migrated, made, point.id) for _ in range(5)]
    with gateway_server() as gateway:
        gateway.answer = lambda request: (503, {})
        result = await run(migrated, gateway, MORNING)
        assert counts(result) == (0, 0, 0, 0, 3)
        assert (result.gateway_unavailable, result.untried) == (True, 2)
        assert len(gateway.received) == 3
    for pk in ids[:3]:
        stored = await notice(migrated, pk)
        assert (stored.status, stored.attempts, stored.last_error) == ("QUEUED", 1, "HTTP 503")
    for pk in ids[3:]:
        stored = await notice(migrated, pk)
        assert (stored.status, stored.attempts, stored.body, stored.not_before) == (
            "QUEUED",
            0,
            None,
            None,
        )
    [entry] = await send_entries(migrated)
    assert entry.changes == changes("send", retrying=ids[:3])


async def test_a_slow_gateway_and_odd_answers(migrated: AsyncEngine, factory: Factory) -> None:
    made, point = await sms_case(factory)
    slow = await insert_notice(migrated, made, point.id)
    with gateway_server() as gateway:
        gateway.delay = 1.5
        async with WebhookAdapter(gateway.url, SECRET, timeout=0.5) as adapter:
            result = await run_outbox(migrated, FixedClock(MORNING), AUDIT_KEY, adapter)
        assert counts(result) == (0, 0, 0, 0, 1)
    assert (await notice(migrated, slow)).last_error == "timeout"

    # An answer too large is read up to the cap; one nested too deep is no reference.
    phone = ContactPointKind.PHONE
    message = Outgoing(1, "SMS", "13900000000", phone, "zh", None, "正文", "FX-1")
    huge = b'{"providerRef":"' + b"x" * (2 * MAX_ANSWER_BYTES) + b'"}'
    deep = b"[" * 30_000 + b"]" * 30_000  # within the cap, beyond the parser's stack
    with gateway_server() as gateway:
        async with WebhookAdapter(gateway.url, SECRET) as adapter:
            for answer in (huge, deep, b'{"providerRef": "ok-1"}'):
                gateway.answer = lambda request, answer=answer: (200, answer)
                reply = await adapter.send(message)
                assert reply.answer.value == "ACCEPTED"
                assert reply.provider_ref == ("ok-1" if len(answer) < 100 else None)
        # A text that cannot be encoded is refused for good, and never posted.
        broken = Outgoing(2, "SMS", "13900000000", phone, "zh", None, "\ud800", "FX-1")
        async with WebhookAdapter(gateway.url, SECRET) as adapter:
            reply = await adapter.send(broken)
        assert (reply.answer.value, reply.error) == (
            "REJECTED",
            "not sendable (UnicodeEncodeError)",
        )
        assert len(gateway.received) == 3


async def test_quiet_hours_defer_an_sms_until_the_next_allowed_instant(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, phone = await sms_case(factory)
    email = await contact_point(factory, made, kind="EMAIL")
    sms = await insert_notice(migrated, made, phone.id)
    mail = await insert_notice(
        migrated, made, email.id, channel="EMAIL", template="PAYMENT_REMINDER_EMAIL"
    )
    with gateway_server() as gateway:
        # 23:00 in Shanghai: the SMS waits; an e-mail is not timed and goes.
        assert counts(await run(migrated, gateway, LATE)) == (1, 1, 0, 0, 0)
        assert [r.json["noticeId"] for r in gateway.received] == [str(mail)]
        stored = await notice(migrated, sms)
        assert (stored.status, stored.not_before, stored.rule, stored.attempts) == (
            "QUEUED",
            NEXT_MORNING,
            None,
            0,
        )
        # The check's deferral has its own entry, the send its own.
        check, send = await send_entries(migrated)
        assert check.changes == changes("check", deferred=[sms])
        assert send.changes == changes("send", sent=[mail])
        assert counts(await run(migrated, gateway, NEXT_MORNING - timedelta(minutes=1))) == (
            0, 0, 0, 0, 0,
        )  # fmt: skip
        assert counts(await run(migrated, gateway, NEXT_MORNING)) == (1, 0, 0, 0, 0)
    assert (await notice(migrated, sms)).sent_at == NEXT_MORNING


class SteppingClock:
    """The first reading, then the second forever after (time passing during a batch)."""

    def __init__(self, first: datetime, then: datetime) -> None:
        self.readings = [first, then]

    def now(self) -> datetime:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]

    def today(self) -> date:
        return self.now().date()


async def test_quiet_hours_that_begin_during_the_batch_defer_at_the_send(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, phone = await sms_case(factory)
    sms = await insert_notice(migrated, made, phone.id)
    # Checked at 21:59:50 in Shanghai, about to be sent at 22:00:10.
    checked = datetime(2026, 3, 2, 13, 59, 50, tzinfo=UTC)
    clock = SteppingClock(checked, checked + timedelta(seconds=20))
    with gateway_server() as gateway:
        async with WebhookAdapter(gateway.url, SECRET) as adapter:
            result = await run_outbox(migrated, clock, AUDIT_KEY, adapter)
        assert counts(result) == (0, 1, 0, 0, 0) and gateway.received == []
    stored = await notice(migrated, sms)
    assert (stored.status, stored.not_before, stored.attempts) == ("QUEUED", NEXT_MORNING, 0)
    [entry] = await send_entries(migrated)
    assert entry.changes == changes("send", deferred=[sms])


async def test_a_batch_stops_sending_when_its_time_is_spent(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
    ids = [await insert_notice(migrated, made, point.id) for _ in range(3)]
    out = io.StringIO()
    result = await run_outbox(
        migrated, FixedClock(MORNING), AUDIT_KEY, PrintAdapter(out), send_budget=0
    )
    # One notice per batch, each batch checking the rest afresh.
    assert (result.sent, result.batches, result.untried) == (3, 3, 0)
    printed = [json.loads(line)["noticeId"] for line in out.getvalue().splitlines()]
    assert printed == [str(pk) for pk in ids]


async def test_what_happened_after_queueing_suppresses_at_send(
    migrated: AsyncEngine, factory: Factory
) -> None:
    ceased, ceased_point = await sms_case(factory)
    ill, ill_phone = await sms_case(factory)
    ill_address = await contact_point(factory, ill, kind="ADDRESS")
    opted, opted_point = await sms_case(factory)
    duplicate, duplicate_point = await sms_case(factory)
    closed, closed_point = await sms_case(factory)
    complained, complained_point = await sms_case(factory)
    plain, plain_point = await sms_case(factory)
    paid, paid_point = await sms_case(factory)
    old, old_point = await sms_case(factory)
    suppressed = {
        await insert_notice(migrated, ceased, ceased_point.id): "CEASE_COMMUNICATION",
        await insert_notice(migrated, ill, ill_phone.id): "FLAG_SERIOUS_ILLNESS",
        await insert_notice(migrated, opted, opted_point.id): "OPTED_OUT",
        await insert_notice(migrated, duplicate, duplicate_point.id): "OPTED_OUT",
        await insert_notice(migrated, closed, closed_point.id): "CASE_CLOSED",
        await insert_notice(migrated, complained, complained_point.id): "OPEN_COMPLAINT",
        await insert_notice(migrated, plain, None): "NO_CONTACT_POINT",
        await insert_notice(migrated, paid, paid_point.id): "NOTHING_OWED",
        # Queued more than 3 days before the outbox took it.
        await insert_notice(
            migrated, old, old_point.id, created_at=MORNING - timedelta(days=3, seconds=1)
        ): "STALE",
    }
    # Queued exactly 3 days before: not stale yet.
    fresh = await insert_notice(migrated, old, old_point.id, created_at=MORNING - timedelta(3))
    letter = await insert_notice(
        migrated, ill, ill_address.id, channel="LETTER", template="DEMAND_LETTER"
    )
    missing = await insert_notice(migrated, plain, plain_point.id, version="2031.9")
    # Handed to the gateway once already (its answer lost): resent as stored, not suppressed.
    tried = await insert_notice(
        migrated,
        ceased,
        ceased_point.id,
        attempts=1,
        body="已存的短信",
        body_digest=hashlib.sha256("已存的短信".encode()).hexdigest(),
    )
    async with writing(migrated) as conn:
        for made, flag in ((ceased, "CEASE_COMMUNICATION"), (ill, "SERIOUS_ILLNESS")):
            await conn.execute(
                insert(tables.borrower_flags).values(
                    borrower_id=made.borrower.id, flag=flag, set_at=MORNING - timedelta(hours=1)
                )
            )
        cp = tables.contact_points.c
        await conn.execute(
            update(tables.contact_points).where(cp.id == opted_point.id).values(status="OPTED_OUT")
        )
        await conn.execute(
            update(tables.cases).where(tables.cases.c.id == closed.case.id).values(status="CLOSED")
        )
        await conn.execute(
            update(tables.cases)
            .where(tables.cases.c.id == paid.case.id)
            .values(outstanding_amount=Decimal("0.00"))
        )
        await conn.execute(
            insert(tables.complaints).values(
                case_id=complained.case.id,
                borrower_id=complained.borrower.id,
                kind="COMPLAINT",
                channel="PHONE",
                written=False,
                description="calls at work",
                status="OPEN",
                filed_at=MORNING - timedelta(hours=1),
                version=1,
            )
        )
    # The same number added again and opted out there: an opt-out holds for every point of it.
    await contact_point(factory, duplicate, value=duplicate_point.value, status="OPTED_OUT")
    with gateway_server() as gateway:
        result = await run(migrated, gateway, MORNING)
        assert counts(result) == (3, 0, len(suppressed), 1, 0)
        assert [r.json["noticeId"] for r in gateway.received] == [
            str(fresh),
            str(letter),
            str(tried),
        ]
        assert gateway.received[2].json["body"] == "已存的短信"
    for pk, rule in suppressed.items():
        stored = await notice(migrated, pk)
        assert (stored.status, stored.rule, stored.body, stored.attempts) == (
            "SUPPRESSED",
            rule,
            None,
            0,
        ), pk
    stored = await notice(migrated, missing)
    assert (stored.status, stored.rule, stored.attempts) == ("FAILED", "NO_APPROVED_TEMPLATE", 0)
    assert (await notice(migrated, tried)).attempts == 2
    assert await events(migrated, plain.case.id) == [
        ("NoticeFailed", {"notice_id": missing, "reason": "NO_APPROVED_TEMPLATE"})
    ]
    check, send = await send_entries(migrated)
    assert check.changes == changes("check", suppressed=sorted(suppressed), failed=[missing])
    assert send.changes == changes("send", sent=[fresh, letter, tried])


async def store_template(engine: AsyncEngine, name: str, payload: dict[str, Any]) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.rule_set_versions).values(
                kind="NOTICE_TEMPLATE",
                name=name,
                version=1,
                payload=payload,
                effective_from=MORNING - timedelta(days=1),
            )
        )


REMINDER_2026_2 = {
    "version": "2026.2",
    "channel": "SMS",
    "purpose": "REMINDER",
    "profiles": ["CN"],
    "texts": {
        "zh": {
            "body": "【{{ lender_name }}】{{ borrower_name }}：账号{{ account_number }}逾期"
            "{{ days_past_due }}天，应还{{ amount_due }}（{{ as_of }}）。热线{{ hotline }}，"
            "专员{{ collector_name }}（{{ collector_id }}）。{{ opt_out_instructions }}"
        }
    },
}


async def test_a_notice_is_rendered_from_the_version_it_names(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
    older = await insert_notice(migrated, made, point.id)
    newer = await insert_notice(migrated, made, point.id, version="2026.2")
    await store_template(migrated, "PAYMENT_REMINDER", REMINDER_2026_2)
    with gateway_server() as gateway:
        assert counts(await run(migrated, gateway, MORNING)) == (2, 0, 0, 0, 0)
        bodies = {r.json["noticeId"]: r.json["body"] for r in gateway.received}
    # The version in effect now is 2026.2, but the older notice says what 2026.1 says.
    lender = f"【{LENDER}】"
    assert bodies[str(older)].startswith(lender) and "您好" in bodies[str(older)]
    assert bodies[str(newer)].startswith(f"{lender}{made.borrower.full_name}：账号")
    assert "贷后管理部（-）" in bodies[str(newer)]  # nobody works the case: the department signs


async def test_a_version_that_fails_at_render_fails_its_notice_only(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
    # A text within its own limits whose rendering is not: the address repeated 15 times.
    body = "【{{ lender_name }}】{{ collector_name }}{{ collector_id }}" + (
        "{{ borrower_address }}" * 15
    )
    payload = {**REMINDER_2026_2, "texts": {"zh": {"body": body}}}
    await store_template(migrated, "PAYMENT_REMINDER", payload)
    await change(migrated, tables.borrowers, made.borrower.id, address="上" * 300)
    broken = await insert_notice(migrated, made, point.id, version="2026.2")
    fine = await insert_notice(migrated, made, point.id)
    with gateway_server() as gateway:
        assert counts(await run(migrated, gateway, MORNING)) == (1, 0, 0, 1, 0)
        assert [r.json["noticeId"] for r in gateway.received] == [str(fine)]
    stored = await notice(migrated, broken)
    assert (stored.status, stored.rule, stored.last_error, stored.attempts, stored.body) == (
        "FAILED",
        "RENDER_FAILED",
        "TemplateNotRenderable",
        0,
        None,
    )
    assert await events(migrated, made.case.id) == [
        ("NoticeFailed", {"notice_id": broken, "reason": "RENDER_FAILED"}),
        (
            "NoticeSent",
            {
                "notice_id": fine,
                "channel": "SMS",
                "template": "PAYMENT_REMINDER",
                "template_version": "2026.1",
            },
        ),
    ]
    check, _ = await send_entries(migrated)
    assert check.changes == changes("check", failed=[broken])


class DyingGateway:
    """A gateway call the run does not survive (the process killed mid-request)."""

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, message: Outgoing) -> Reply:
        self.calls += 1
        raise RuntimeError("killed")


async def test_a_run_that_dies_after_handing_a_notice_over(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
    await set_schedule(migrated, made, SCHEDULE)
    closed, closed_point = await sms_case(factory)
    gone = await insert_notice(migrated, closed, closed_point.id)
    pk = await insert_notice(migrated, made, point.id)
    await change(migrated, tables.cases, closed.case.id, status="CLOSED")
    dying = DyingGateway()
    with pytest.raises(RuntimeError, match="killed"):
        await run_outbox(migrated, FixedClock(MORNING), AUDIT_KEY, dying)
    # The check's decision committed with its audit entry before anything left.
    [check] = await send_entries(migrated)
    assert check.changes == changes("check", suppressed=[gone])
    # The attempt is counted and the text kept; the notice waits out a lease.
    stored = await notice(migrated, pk)
    assert (stored.status, stored.attempts, stored.not_before) == (
        "QUEUED",
        1,
        MORNING + timedelta(minutes=1),
    )
    text = stored.body
    assert "2,500.00元" in text
    # Meanwhile a cease flag and a payment: the resend is what the gateway may already have.
    async with writing(migrated) as conn:
        await conn.execute(
            insert(tables.borrower_flags).values(
                borrower_id=made.borrower.id, flag="CEASE_COMMUNICATION", set_at=MORNING
            )
        )
    await set_schedule(migrated, made, [(date(2026, 1, 15), "1500.00", "1500.00")])
    later = MORNING + timedelta(minutes=1)
    with gateway_server() as gateway:
        assert counts(await run(migrated, gateway, later)) == (1, 0, 0, 0, 0)
        [request] = gateway.received
    assert request.json["body"] == text
    assert request.headers["idempotency-key"] == f"notice-{pk}"
    stored = await notice(migrated, pk)
    assert (stored.status, stored.attempts, stored.body) == ("SENT", 2, text)

    # Dying on every attempt still counts each, and the attempts run out.
    again = await insert_notice(migrated, made, point.id, attempts=5)
    clock = MovableClock(later)
    with pytest.raises(RuntimeError):
        await run_outbox(migrated, clock, AUDIT_KEY, dying)
    assert (await notice(migrated, again)).attempts == 6
    clock.at = later + timedelta(hours=12)
    result = await run_outbox(migrated, clock, AUDIT_KEY, dying)
    assert counts(result) == (0, 0, 0, 1, 0)
    stored = await notice(migrated, again)
    assert (stored.status, stored.rule, stored.last_error, stored.attempts) == (
        "FAILED",
        "GATEWAY_REJECTED",
        NO_ANSWER_RECORDED,
        6,
    )


async def test_the_print_adapter_masks_the_destination(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(agency=None)
    point = await contact_point(factory, made, value="13912345678")
    pk = await insert_notice(migrated, made, point.id)
    out = io.StringIO()
    result = await run_outbox(migrated, FixedClock(MORNING), AUDIT_KEY, PrintAdapter(out))
    assert counts(result) == (1, 0, 0, 0, 0)
    [line] = out.getvalue().splitlines()
    printed = json.loads(line)
    assert printed["to"] == "****5678" and "13912345678" not in line
    stored = await notice(migrated, pk)
    assert printed["body"] == stored.body and stored.status == "SENT"
    assert made.borrower.full_name in printed["body"]


async def test_a_concurrent_run_is_refused(migrated: AsyncEngine) -> None:
    async with job_lock(migrated, "outbox"):
        with pytest.raises(JobLocked, match="another outbox run is in progress"):
            await run_outbox(
                migrated, MovableClock(MORNING), AUDIT_KEY, PrintAdapter(io.StringIO())
            )


async def test_batches_up_to_the_limit(migrated: AsyncEngine, factory: Factory) -> None:
    made, point = await sms_case(factory)
    ids = [await insert_notice(migrated, made, point.id) for _ in range(5)]
    out = io.StringIO()
    first = await run_outbox(migrated, FixedClock(MORNING), AUDIT_KEY, PrintAdapter(out), limit=3)
    assert (first.sent, first.batches) == (3, 1)
    rest = await run_outbox(migrated, FixedClock(MORNING), AUDIT_KEY, PrintAdapter(out))
    assert (rest.sent, rest.batches) == (2, 1)
    printed = [json.loads(line)["noticeId"] for line in out.getvalue().splitlines()]
    assert printed == [str(pk) for pk in ids]


async def statements_of_a_run(engine: AsyncEngine, factory: Factory, notices: int) -> list[str]:
    """The statements one outbox run of ``notices`` SMS on as many cases executes."""
    for _ in range(notices):
        made, point = await sms_case(factory)
        await insert_notice(engine, made, point.id)
    counted: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        counted.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        result = await run_outbox(
            engine, FixedClock(MORNING), AUDIT_KEY, PrintAdapter(io.StringIO())
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert result.sent == notices
    return counted


def claim(statement: str) -> bool:
    """Whether a statement is a notice's claim (its text stored, its attempt counted)."""
    words = " ".join(statement.split())
    return words.startswith("UPDATE notices SET") and "body_digest=" in words


async def test_a_batch_takes_a_fixed_number_of_statements_and_one_per_notice_sent(
    migrated: AsyncEngine, factory: Factory
) -> None:
    few = await statements_of_a_run(migrated, factory, 2)
    many = await statements_of_a_run(migrated, factory, 12)
    # The only statement per notice: its claim, in a transaction of its own, just before it
    # goes to the gateway (SQLite's BEGIN IMMEDIATE is a statement too).
    assert (sum(map(claim, few)), sum(map(claim, many))) == (2, 12)

    def fixed(statements: list[str]) -> list[str]:
        return [s for s in statements if not claim(s) and s.strip() != "BEGIN IMMEDIATE"]

    assert len(fixed(few)) == len(fixed(many))
