"""``run_outbox`` against a real gateway on loopback: sent notices arrive rendered, signed and
keyed; an unavailable gateway is tried again after the backoff and a refusal fails the notice;
quiet hours defer an SMS; protections, opt-outs and a closed case set after queueing suppress at
send; a missing template version fails; the print adapter masks the destination; a second run
sends nothing twice. On a fresh database of the backend under test (SQLite or PostgreSQL)."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.clock import FixedClock
from jobs.locks import JobLocked, job_lock
from jobs.notice_gateways import PrintAdapter, WebhookAdapter
from jobs.outbox import OutboxResult, run_outbox
from store import tables
from tests.daily_support import AUDIT_KEY, MovableClock
from tests.factories import Factory, MadeCase, writing
from tests.notices_support import (
    FakeGateway,
    Received,
    contact_point,
    gateway_server,
    insert_notice,
)

SECRET = "gateway-shared-secret"
# 10:00 in Shanghai, 22:00 (the day before) in New York: inside the CN profile's hours.
MORNING = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
# 23:00 in Shanghai: the CN quiet hours (22:00-08:00); they end at 00:00 UTC.
LATE = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
n, ev, a = tables.notices.c, tables.case_events.c, tables.audit_entries.c


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


def counts(result: OutboxResult) -> tuple[int, int, int, int, int]:
    return result.sent, result.deferred, result.suppressed, result.failed, result.retrying


async def test_sent_notices_arrive_rendered_signed_and_keyed_once(
    migrated: AsyncEngine, factory: Factory
) -> None:
    collector = await factory.staff("notice.collector")
    made = await factory.case(assignee=collector.login)
    phone = await contact_point(factory, made, value="13900001234")
    email = await contact_point(factory, made, kind="EMAIL", value="zhang.san@example.org")
    sms = await insert_notice(migrated, made, phone.id)
    mail = await insert_notice(
        migrated, made, email.id, channel="EMAIL", template="PAYMENT_REMINDER_EMAIL"
    )
    with gateway_server() as gateway:
        result = await run(migrated, gateway, MORNING)
        assert counts(result) == (2, 0, 0, 0, 0) and result.batches == 1
        received = {r.json["noticeId"]: r for r in gateway.received}
        assert sorted(received) == [str(sms), str(mail)]
        first = received[str(sms)]
        # Signed with the shared secret over the exact bytes, keyed by the notice.
        expected = hmac.new(SECRET.encode(), first.body, hashlib.sha256).hexdigest()
        assert first.headers["x-arrears-signature"] == f"sha256={expected}"
        assert first.headers["idempotency-key"] == f"notice-{sms}"
        account = made.debts[0].account_number
        body = (
            f"【示范消费金融有限公司】{made.borrower.full_name}您好，您的借款（账号****{account[-4:]}）"
            f"已逾期{made.case.days_past_due}天，截至2026年3月2日应还金额"
            f"{made.case.outstanding_amount:,.2f}元。请尽快还款；如还款确有困难，请致电"
            f"400-800-1234与我们协商。催收专员：{collector.name}（工号notice.collector）。回复TD退订"
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
        lender = "示范消费金融有限公司"
        assert second["subject"] == f"【{lender}】还款提醒（案件编号{made.case.reference}）"

        stored = await notice(migrated, sms)
        assert (stored.status, stored.sent_at, stored.provider_ref, stored.attempts) == (
            "SENT",
            MORNING,
            f"gw-notice-{sms}",
            1,
        )
        assert (stored.body, stored.subject) == (body, None)
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
        [entry] = await send_entries(migrated)
        assert entry.case_ids == [made.case.id]
        assert entry.changes == {
            "sent": [sms, mail],
            "deferred": [],
            "suppressed": [],
            "failed": [],
            "retrying": [],
            "counts": {"sent": 2, "deferred": 0, "suppressed": 0, "failed": 0, "retrying": 0},
        }
        assert body not in json.dumps(entry.changes) and "13900001234" not in str(entry)

        # A second run finds nothing due: nothing is sent twice.
        again = await run(migrated, gateway, MORNING + timedelta(hours=1))
        assert counts(again) == (0, 0, 0, 0, 0) and again.batches == 0
        assert len(gateway.received) == 2
        assert len(await send_entries(migrated)) == 1


async def test_an_unavailable_gateway_is_tried_again_after_the_backoff(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
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
        # The same key every time: the gateway can tell a repeat.
        keys = [r.headers["idempotency-key"] for r in gateway.received]
        assert keys == [f"notice-{pk}"] * 3
    stored = await notice(migrated, pk)
    assert (stored.status, stored.attempts, stored.provider_ref, stored.last_error) == (
        "SENT",
        3,
        "provider-77",
        None,
    )


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
        assert stored.failed_at == MORNING and stored.body is None
    assert (await notice(migrated, throttled)).status == "QUEUED"  # 429: tried again later
    assert await events(migrated, made.case.id) == [
        ("NoticeFailed", {"notice_id": pk, "reason": "GATEWAY_REJECTED"})
        for pk in sorted((exhausted, refused))
    ]


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
        assert counts(await run(migrated, gateway, NEXT_MORNING - timedelta(minutes=1))) == (
            0, 0, 0, 0, 0,
        )  # fmt: skip
        assert counts(await run(migrated, gateway, NEXT_MORNING)) == (1, 0, 0, 0, 0)
    assert (await notice(migrated, sms)).sent_at == NEXT_MORNING


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
    suppressed = {
        await insert_notice(migrated, ceased, ceased_point.id): "CEASE_COMMUNICATION",
        await insert_notice(migrated, ill, ill_phone.id): "FLAG_SERIOUS_ILLNESS",
        await insert_notice(migrated, opted, opted_point.id): "OPTED_OUT",
        await insert_notice(migrated, duplicate, duplicate_point.id): "OPTED_OUT",
        await insert_notice(migrated, closed, closed_point.id): "CASE_CLOSED",
        await insert_notice(migrated, complained, complained_point.id): "OPEN_COMPLAINT",
        await insert_notice(migrated, plain, None): "NO_CONTACT_POINT",
    }
    letter = await insert_notice(
        migrated, ill, ill_address.id, channel="LETTER", template="DEMAND_LETTER"
    )
    missing = await insert_notice(migrated, plain, plain_point.id, version="2031.9")
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
        assert counts(result) == (1, 0, len(suppressed), 1, 0)
        assert [r.json["noticeId"] for r in gateway.received] == [str(letter)]
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
    assert await events(migrated, plain.case.id) == [
        ("NoticeFailed", {"notice_id": missing, "reason": "NO_APPROVED_TEMPLATE"})
    ]
    [entry] = await send_entries(migrated)
    assert entry.changes["suppressed"] == sorted(suppressed)
    assert entry.changes["failed"] == [missing] and entry.changes["sent"] == [letter]


async def test_a_notice_is_rendered_from_the_version_it_names(
    migrated: AsyncEngine, factory: Factory
) -> None:
    made, point = await sms_case(factory)
    older = await insert_notice(migrated, made, point.id)
    newer = await insert_notice(migrated, made, point.id, version="2026.2")
    payload = {
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
    async with writing(migrated) as conn:
        await conn.execute(
            insert(tables.rule_set_versions).values(
                kind="NOTICE_TEMPLATE",
                name="PAYMENT_REMINDER",
                version=1,
                payload=payload,
                effective_from=MORNING - timedelta(days=1),
            )
        )
    with gateway_server() as gateway:
        assert counts(await run(migrated, gateway, MORNING)) == (2, 0, 0, 0, 0)
        bodies = {r.json["noticeId"]: r.json["body"] for r in gateway.received}
    # The version in effect now is 2026.2, but the older notice says what 2026.1 says.
    lender = "【示范消费金融有限公司】"
    assert bodies[str(older)].startswith(lender) and "您好" in bodies[str(older)]
    assert bodies[str(newer)].startswith(f"{lender}{made.borrower.full_name}：账号")
    assert "贷后管理部（-）" in bodies[str(newer)]  # nobody works the case: the department signs


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


async def statements_of_a_run(engine: AsyncEngine, factory: Factory, notices: int) -> int:
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
    return len(counted)


async def test_a_batch_takes_as_many_statements_whatever_its_size(
    migrated: AsyncEngine, factory: Factory
) -> None:
    few = await statements_of_a_run(migrated, factory, 2)
    many = await statements_of_a_run(migrated, factory, 12)
    assert few == many
