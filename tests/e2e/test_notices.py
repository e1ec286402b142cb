"""notices and recordNoticeDelivery over HTTP: the listing scoped to the caller's cases (a
collector's own, an agency's placed ones; totalCount scoped), its filters and keyset pages
newest first, in as many statements whatever the page's size; delivery receipts (DELIVERED, a
repeat answered as it is, a contradicting one refused and still kept, bad input — a delivery
before the notice was sent among it —, a suppressed notice), their events, timeline and audit;
a delivered DEMAND letter the outbox sent meets the DEMAND_NOTICE_DELIVERED legal condition (a
reminder letter, or one never sent, does not) and restarts the limitation period under CN only;
and `arrears outbox` as a command (printing in development, refusing production without a
gateway, with an http one or without a secret, posting to one, exit 1 while another run holds
the lock and when the gateway is down)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.cases.model import Case
from jobs.locks import job_lock
from store import tables
from store.legal_queries import legal_facts
from tests.cli import invoke_aside
from tests.e2e.conftest import StatementCounter
from tests.factories import Factory, global_id
from tests.helpers import Gql, assert_bad_input, assert_forbidden
from tests.legal_support import REFER, add_contact
from tests.notices_support import QUEUED_AT, contact_point, gateway_server, insert_notice

LIST = """
query($first: Int, $after: String, $filter: NoticeFilter) {
  notices(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { node { id channel template templateVersion status createdAt case { id } } }
  }
}
"""
RECORD = """
mutation($input: RecordNoticeDeliveryInput!) {
  r: recordNoticeDelivery(input: $input) {
    __typename
    ... on RecordNoticeDeliverySuccess {
      notice { id status sentAt deliveredAt failedAt providerRef rule attempts }
    }
    ... on UserError { code field message }
  }
}
"""
TIMELINE = """
query($id: ID!) { case(id: $id) { timeline(first: 20) { edges { node { kind summary } } } } }
"""
n, nr, a = tables.notices.c, tables.notice_receipts.c, tables.audit_entries.c
SENT_AT = QUEUED_AT + timedelta(hours=1)


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


def template_name() -> str:
    """A template name no other test uses, to find this test's notices among all."""
    return f"T_{uuid.uuid4().hex[:12].upper()}"


async def listed(gql: Gql, login: str, **filter: Any) -> dict[str, Any]:
    data = await gql(login, LIST, {"first": 100, "filter": filter})
    found: dict[str, Any] = data["notices"]
    return found


def ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


async def test_notices_are_scoped_to_the_callers_cases(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    template = template_name()
    shapes = {
        "own": {"assignee": "collector1"},
        "other": {"assignee": "collector3"},
        "acme": {"agency": "Acme Recovery"},
        "zenith": {"agency": "Zenith Collections"},
        "pool": {},
    }
    made = {name: await factory.case(**shape) for name, shape in shapes.items()}
    notice = {
        name: global_id("Notice", await insert_notice(engine, case, None, template=template))
        for name, case in made.items()
    }
    expected = {
        "manager": set(notice.values()),
        "auditor1": set(notice.values()),
        "collector1": {notice["own"]},
        "acme.agent1": {notice["acme"]},
        "zenith.agent1": {notice["zenith"]},
    }
    for login, visible in expected.items():
        page = await listed(gql, login, template=[template])
        assert set(ids(page)) == visible, login
        assert page["totalCount"] == len(visible), login
        for edge in page["edges"]:  # each with its case, in scope
            case = next(c for c in made.values() if c.gid == edge["node"]["case"]["id"])
            assert notice[next(k for k, v in made.items() if v is case)] == edge["node"]["id"]
    # A notice out of scope is not found by its ID either.
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await gql("collector1", node, {"id": notice["acme"]}))["node"] is None
    assert (await gql("collector1", node, {"id": notice["own"]}))["node"] == {"id": notice["own"]}


async def test_filters_and_pages_newest_first(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    template = template_name()
    made = await factory.case()
    other = await factory.case()
    rows = [
        (made, "SMS", "QUEUED", QUEUED_AT),
        (made, "EMAIL", "SENT", QUEUED_AT + timedelta(minutes=1)),
        (made, "SMS", "SUPPRESSED", QUEUED_AT + timedelta(minutes=1)),  # the same instant
        (other, "LETTER", "DELIVERED", QUEUED_AT + timedelta(minutes=2)),
    ]
    made_ids = [
        await insert_notice(
            engine, case, None, template=template, channel=ch, status=st, created_at=at
        )
        for case, ch, st, at in rows
    ]
    newest = [global_id("Notice", made_ids[i]) for i in (3, 2, 1, 0)]
    page = await listed(gql, "manager", template=[template])
    assert ids(page) == newest and page["totalCount"] == 4
    first = page["edges"][0]["node"]
    assert first == {
        "id": newest[0],
        "channel": "LETTER",
        "template": template,
        "templateVersion": "2026.1",
        "status": "DELIVERED",
        "createdAt": (QUEUED_AT + timedelta(minutes=2)).isoformat(),
        "case": {"id": other.gid},
    }
    # Keyset pages: two, then the rest after the cursor.
    data = await gql("manager", LIST, {"first": 2, "filter": {"template": [template]}})
    head = data["notices"]
    assert ids(head) == newest[:2] and head["pageInfo"]["hasNextPage"] is True
    after = head["pageInfo"]["endCursor"]
    tail = (
        await gql("manager", LIST, {"first": 2, "after": after, "filter": {"template": [template]}})
    )["notices"]
    assert ids(tail) == newest[2:]
    assert tail["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "endCursor": tail["pageInfo"]["endCursor"],
    }
    assert tail["totalCount"] == 4
    # Each filter, alone and together.
    assert ids(await listed(gql, "manager", template=[template], caseId=made.gid)) == newest[1:]
    sms = await listed(gql, "manager", template=[template], channel=["SMS"])
    assert ids(sms) == [newest[1], newest[3]]
    found = await listed(gql, "manager", template=[template], status=["SENT", "DELIVERED"])
    assert ids(found) == [newest[0], newest[2]] and found["totalCount"] == 2
    assert (await listed(gql, "manager", template=[template], status=["QUEUED"]))["totalCount"] == 1
    # In a document the statuses are enum literals (unquoted).
    literal = (
        f'{{ notices(filter: {{template: ["{template}"], status: [SENT, DELIVERED]}}) '
        "{ totalCount } }"
    )
    assert (await gql("manager", literal))["notices"] == {"totalCount": 2}
    # Refusals of bad input: the status is the NoticeStatus enum (anything else fails
    # validation), the rest is checked by the query.
    lost = await gql.errors("manager", LIST, {"filter": {"status": ["LOST"]}})
    assert lost[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "'LOST' does not exist in 'NoticeStatus' enum" in lost[0]["message"]
    for variables, fragment in (
        ({"filter": {"caseId": newest[0]}}, "filter.caseId is not a case ID"),
        ({"after": "bm9wZQ"}, "after:"),
        ({"first": 101}, "first must be between 0 and 100"),
    ):
        assert_bad_input(await gql.errors("manager", LIST, variables), fragment)


async def test_a_page_of_notices_costs_as_many_statements_whatever_its_size(
    gql: Gql, engine: AsyncEngine, factory: Factory, sql_counter: StatementCounter
) -> None:
    template = template_name()
    for _ in range(20):
        made = await factory.case()
        await insert_notice(engine, made, None, template=template)
    variables: dict[str, Any] = {"filter": {"template": [template]}}
    await gql("manager", LIST, {"first": 1, **variables})  # warm up
    counted = {}
    for first in (2, 20):
        sql_counter.reset()
        page = (await gql("manager", LIST, {"first": first, **variables}))["notices"]
        assert len(page["edges"]) == first and page["totalCount"] == 20
        counted[first] = sql_counter.count
    assert counted[2] == counted[20], sql_counter.statements


async def record(gql: Gql, pk: int, login: str = "core.banking", **fields: Any) -> Any:
    variables = {"input": {"noticeId": global_id("Notice", pk), "status": "DELIVERED", **fields}}
    return (await gql(login, RECORD, variables))["r"]


async def receipts(engine: AsyncEngine, pk: int) -> list[tuple[str, str | None]]:
    async with engine.connect() as conn:
        stmt = select(nr.status, nr.provider_ref).where(nr.notice_id == pk).order_by(nr.id)
        return [tuple(row) for row in (await conn.execute(stmt)).all()]  # type: ignore[misc]


async def test_receipts_move_a_notice_once_and_are_all_kept(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case()
    pk = await insert_notice(engine, made, None, status="SENT", sent_at=SENT_AT, attempts=1)
    gid = global_id("Notice", pk)
    delivered = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    result = await record(gql, pk, deliveredAt=delivered.isoformat(), providerRef=" gw-42 ")
    notice = {
        "id": gid,
        "status": "DELIVERED",
        "sentAt": SENT_AT.isoformat(),
        "deliveredAt": delivered.isoformat(),
        "failedAt": None,
        "providerRef": "gw-42",
        "rule": None,
        "attempts": 1,
    }
    assert result == {"__typename": "RecordNoticeDeliverySuccess", "notice": notice}
    # The same receipt again: answered with the notice as it is.
    again = await record(gql, pk, deliveredAt=delivered.isoformat(), providerRef="gw-42")
    assert again == result
    # A contradicting receipt: refused, and kept all the same.
    refused = await record(gql, pk, status="FAILED")
    assert refused["__typename"] == "RuleViolationError"
    assert (refused["code"], refused["field"]) == ("NOTICE_STATUS_INVALID", "status")
    assert "DELIVERED already" in refused["message"]
    # A receipt dated in the future, before the notice was queued, or more than a minute before
    # it was sent: bad input, kept.
    future = await record(gql, pk, deliveredAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    early = await record(gql, pk, deliveredAt=(QUEUED_AT - timedelta(days=1)).isoformat())
    unsent = await record(gql, pk, deliveredAt=(SENT_AT - timedelta(minutes=2)).isoformat())
    assert "before the notice was sent" in unsent["message"]
    for bad in (future, early, unsent):
        assert (bad["__typename"], bad["code"], bad["field"]) == (
            "ValidationError",
            "INVALID_INPUT",
            "deliveredAt",
        )
    assert await receipts(engine, pk) == [
        ("DELIVERED", "gw-42"),
        ("DELIVERED", "gw-42"),
        ("FAILED", None),
        ("DELIVERED", None),
        ("DELIVERED", None),
        ("DELIVERED", None),
    ]
    async with engine.connect() as conn:
        row = (await conn.execute(select(tables.notices).where(n.id == pk))).one()
        stmt = select(a.outcome, a.resource_ids, a.case_ids, a.changes).where(
            a.action == "notice.delivery"
        )
        found = (await conn.execute(stmt.order_by(a.id))).all()
    allowed = [e.changes for e in found if e.outcome == "ALLOWED" and e.case_ids == [made.case.id]]
    denied = [e.changes for e in found if e.outcome == "DENIED" and e.resource_ids == [gid]]
    assert (row.status, row.version) == ("DELIVERED", 2)
    assert allowed == [{"notice_id": pk, "provider_ref": "gw-42"}]  # the repeat changed nothing
    assert denied == [
        {"refused": "NOTICE_STATUS_INVALID"},
        {"refused": "INVALID_INPUT"},
        {"refused": "INVALID_INPUT"},
        {"refused": "INVALID_INPUT"},
    ]
    timeline = await gql("manager", TIMELINE, {"id": made.gid})
    assert {"kind": "NOTICE", "summary": f"Notice {pk} delivered"} in [
        edge["node"] for edge in timeline["case"]["timeline"]["edges"]
    ]


async def test_a_failed_receipt_of_a_queued_notice_and_refusals(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case()
    queued = await insert_notice(engine, made, None, attempts=1)
    suppressed = await insert_notice(
        engine, made, None, status="SUPPRESSED", rule="CEASE_COMMUNICATION"
    )
    never_sent = await insert_notice(engine, made, None)
    # A receipt may beat the outbox's own mark once it handed the notice to the gateway:
    # QUEUED → FAILED.
    failed = await record(gql, queued, status="FAILED", providerRef="gw-9")
    assert failed["__typename"] == "RecordNoticeDeliverySuccess"
    assert (failed["notice"]["status"], failed["notice"]["rule"]) == ("FAILED", None)
    assert failed["notice"]["failedAt"] is not None and failed["notice"]["sentAt"] is None
    timeline = await gql("manager", TIMELINE, {"id": made.gid})
    assert {"kind": "NOTICE", "summary": f"Notice {queued} failed (UNDELIVERED)"} in [
        edge["node"] for edge in timeline["case"]["timeline"]["edges"]
    ]
    never = await record(gql, suppressed)
    assert (never["__typename"], never["code"]) == ("RuleViolationError", "NOTICE_STATUS_INVALID")
    assert await receipts(engine, suppressed) == [("DELIVERED", None)]
    # A notice the outbox never handed to the gateway has no delivery yet: refused, kept, and
    # the notice stays QUEUED for the outbox to send.
    early = await record(gql, never_sent, providerRef="gw-8")
    assert (early["__typename"], early["code"], early["field"]) == (
        "RuleViolationError",
        "NOTICE_STATUS_INVALID",
        "status",
    )
    assert "not been handed to the gateway" in early["message"]
    assert await receipts(engine, never_sent) == [("DELIVERED", "gw-8")]
    async with engine.connect() as conn:
        stmt = select(n.status, n.version, n.provider_ref).where(n.id == never_sent)
        assert tuple((await conn.execute(stmt)).one()) == ("QUEUED", 1, None)
    # Unknown IDs, another type's ID, and a provider reference too long to keep.
    missing = await gql(
        "manager",
        RECORD,
        {"input": {"noticeId": global_id("Notice", 2**31 - 1), "status": "DELIVERED"}},
    )
    assert (missing["r"]["code"], missing["r"]["field"]) == ("NOTICE_NOT_FOUND", "noticeId")
    wrong = await gql("admin", RECORD, {"input": {"noticeId": made.gid, "status": "DELIVERED"}})
    assert wrong["r"]["code"] == "NOTICE_NOT_FOUND"
    long = await record(gql, queued, providerRef="x" * 201)
    assert (long["code"], long["field"]) == ("INVALID_INPUT", "providerRef")
    assert len(await receipts(engine, queued)) == 1  # a reference too long is not kept
    # A receipt needs an instant with its time zone.
    naive = {"input": {"noticeId": global_id("Notice", queued), "status": "DELIVERED",
                       "deliveredAt": "2026-03-01T10:00:00"}}  # fmt: skip
    assert_bad_input(await gql.errors("core.banking", RECORD, naive), "needs a time zone")
    # Only the gateway's integration, managers and admins record receipts.
    assert_forbidden(
        await gql.errors(
            "collector1",
            RECORD,
            {"input": {"noticeId": global_id("Notice", queued), "status": "DELIVERED"}},
        )
    )


async def test_a_delivered_letter_notice_is_a_demand_delivered(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(assignee="collector1", days_past_due=120, stage="COLLECTION")
    now = datetime.now(UTC)
    await add_contact(engine, made, "REFUSED_TO_PAY", now - timedelta(days=2))
    refer = {"input": {"caseId": made.gid, "reason": "refused to pay after the letter"}}
    before = (await gql("collector1", REFER, refer))["r"]
    assert before["code"] == "LEGAL_CONDITIONS_NOT_MET"
    assert "DEMAND_NOTICE_DELIVERED: no demand notice delivered" in before["message"]
    # An SMS delivered is no demand, nor a reminder letter, nor a demand letter the outbox
    # never sent (a receipt beat it); a demand letter the outbox sent, delivered, is.
    sms = await insert_notice(engine, made, None, status="SENT", sent_at=SENT_AT)
    reminder = await insert_notice(
        engine, made, None, channel="LETTER", template="REMINDER_LETTER", purpose="REMINDER",
        status="SENT", sent_at=SENT_AT,
    )  # fmt: skip
    unsent = await insert_notice(
        engine, made, None, channel="LETTER", template="DEMAND_LETTER", purpose="DEMAND",
        attempts=1,
    )  # fmt: skip
    for pk in (sms, reminder, unsent):
        assert (await record(gql, pk))["__typename"] == "RecordNoticeDeliverySuccess"
    assert (await gql("collector1", REFER, refer))["r"]["code"] == "LEGAL_CONDITIONS_NOT_MET"
    letter = await insert_notice(
        engine, made, None, channel="LETTER", template="DEMAND_LETTER", purpose="DEMAND",
        status="SENT", sent_at=SENT_AT,
    )  # fmt: skip
    delivered = now - timedelta(days=1)
    result = await record(gql, letter, deliveredAt=delivered.isoformat())
    assert result["notice"]["status"] == "DELIVERED"
    after = (await gql("collector1", REFER, refer))["r"]
    assert after["__typename"] == "ReferToLegalSuccess", after
    [demand] = [
        c for c in after["referral"]["conditions"] if c["name"] == "DEMAND_NOTICE_DELIVERED"
    ]
    day = delivered.astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert demand == {
        "name": "DEMAND_NOTICE_DELIVERED",
        "passed": True,
        "detail": f"a demand notice was delivered on {day}",
    }


async def test_a_delivered_demand_restarts_the_limitation_period_under_cn_only(
    engine: AsyncEngine, factory: Factory
) -> None:
    delivered = datetime.now(UTC) - timedelta(days=1)
    found = {}
    for portfolio, zone in (("retail", "Asia/Shanghai"), ("us-cards", "America/New_York")):
        made = await factory.case(portfolio=portfolio, days_past_due=120)
        await insert_notice(
            engine, made, None, channel="LETTER", template="DEMAND_LETTER", purpose="DEMAND",
            status="DELIVERED", sent_at=delivered - timedelta(days=2), delivered_at=delivered,
            created_at=delivered - timedelta(days=3),
        )  # fmt: skip
        async with AsyncSession(engine) as session:
            stmt = select(Case).where(tables.cases.c.id == made.case.id)
            case = (await session.execute(stmt)).scalar_one()
            today = datetime.now(ZoneInfo(zone)).date()
            found[portfolio] = (await legal_facts(session, case, today), zone)
    for portfolio, (facts, zone) in found.items():
        day = delivered.astimezone(ZoneInfo(zone)).date()
        # A demand delivered either way (the condition), a restart of the limitation period
        # only where a creditor's claim interrupts it (CN).
        assert facts.last_demand_delivered == day, portfolio
        assert facts.demands_since_due == ((day,) if portfolio == "retail" else ()), portfolio


# ---- the command ---------------------------------------------------------------------------------


def _url(engine: AsyncEngine) -> str:
    return engine.url.render_as_string(hide_password=False)


async def test_the_outbox_command(migrated: AsyncEngine, tmp_path: Path) -> None:
    factory = Factory(migrated)
    made = await factory.case(assignee=None)
    address = await contact_point(factory, made, kind="ADDRESS", value="上海市浦东新区命令路8号")
    email = await contact_point(factory, made, kind="EMAIL", value="cli.test@example.org")
    # Queued just now (the command runs on the system clock: older ones would be stale).
    now = datetime.now(UTC)
    letter = await insert_notice(
        migrated, made, address.id, channel="LETTER", template="DEMAND_LETTER", created_at=now
    )
    url = _url(migrated)
    # Production without a gateway: refused before anything is read.
    refused = await asyncio.to_thread(invoke_aside, "outbox", url=url, ARREARS_ENV="production")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "arrears: ARREARS_NOTICE_WEBHOOK_URL must be set when ARREARS_ENV=production (the "
        "notice gateway; only development prints notices instead of sending them)"
    )
    # Production with a gateway in clear, or unsigned, or a URL without a host: refused too.
    for env, said in (
        (
            {"ARREARS_NOTICE_WEBHOOK_URL": "http://gw.example.org/n",
             "ARREARS_NOTICE_WEBHOOK_SECRET": "s3cret"},
            "ARREARS_NOTICE_WEBHOOK_URL must be https outside ARREARS_ENV=development (the "
            "notices carry personal data)",
        ),
        (
            {"ARREARS_NOTICE_WEBHOOK_URL": "https://gw.example.org/n"},
            "ARREARS_NOTICE_WEBHOOK_SECRET must be set outside ARREARS_ENV=development (it "
            "signs each request)",
        ),
        (
            {"ARREARS_NOTICE_WEBHOOK_URL": "https:///n", "ARREARS_NOTICE_WEBHOOK_SECRET": "s"},
            "ARREARS_NOTICE_WEBHOOK_URL must be an http(s) URL with a host",
        ),
    ):  # fmt: skip
        bad = await asyncio.to_thread(
            invoke_aside, "outbox", url=url, ARREARS_ENV="production", **env
        )
        assert (bad.returncode, bad.stderr.strip()) == (1, f"arrears: {said}")
    # Another run holds the lock: exit 1, nothing sent.
    async with job_lock(migrated, "outbox"):
        locked = await asyncio.to_thread(invoke_aside, "outbox", url=url)
    assert locked.returncode == 1
    assert locked.stderr.strip() == "arrears: another outbox run is in progress"
    # Development without a gateway: printed, the address masked, the summary on stderr.
    printed = await asyncio.to_thread(invoke_aside, "outbox", "--limit", "5", url=url)
    assert printed.returncode == 0, printed.stderr
    [line] = printed.stdout.splitlines()
    shown = json.loads(line)
    assert shown["noticeId"] == global_id("Notice", letter)
    assert shown["to"] == "****" and "命令路" not in printed.stdout
    assert shown["channel"] == "LETTER" and made.borrower.full_name in shown["body"]
    assert (
        printed.stderr.strip() == "outbox: 1 sent, 0 deferred, 0 suppressed, 0 failed, 0 to retry"
    )
    # With a gateway: posted there, the notice's global ID as noticeId, signed.
    mail = await insert_notice(
        migrated, made, email.id, channel="EMAIL", template="PAYMENT_REMINDER_EMAIL", created_at=now
    )
    with gateway_server() as gateway:
        posted = await asyncio.to_thread(
            invoke_aside,
            "outbox",
            url=url,
            ARREARS_NOTICE_WEBHOOK_URL=gateway.url,
            ARREARS_NOTICE_WEBHOOK_SECRET="s3cret",
        )
        assert posted.returncode == 0, posted.stderr
        assert posted.stdout.strip() == (
            "outbox: 1 sent, 0 deferred, 0 suppressed, 0 failed, 0 to retry"
        )
        [request] = gateway.received
    assert request.json["noticeId"] == global_id("Notice", mail)
    assert request.json["to"] == "cli.test@example.org"
    assert request.headers["x-arrears-signature"].startswith("sha256=")
    # A gateway that is down: the run stops after three answers, says so, and exits 1.
    down = [
        await insert_notice(migrated, made, email.id, channel="EMAIL",
                            template="PAYMENT_REMINDER_EMAIL", created_at=now)
        for _ in range(4)
    ]  # fmt: skip
    with gateway_server() as gateway:
        gateway.answer = lambda request: (503, {})
        stopped = await asyncio.to_thread(
            invoke_aside, "outbox", url=url, ARREARS_NOTICE_WEBHOOK_URL=gateway.url
        )
        assert len(gateway.received) == 3
    assert stopped.returncode == 1
    assert stopped.stdout.strip() == (
        "outbox: 0 sent, 0 deferred, 0 suppressed, 0 failed, 3 to retry"
    )
    assert stopped.stderr.strip() == (
        "arrears: the notice gateway is unavailable: the run stopped, 1 notices left queued untried"
    )
    async with migrated.connect() as conn:
        stmt = select(n.attempts).where(n.id.in_(down)).order_by(n.id)
        assert list((await conn.execute(stmt)).scalars()) == [1, 1, 1, 0]
    bad = await asyncio.to_thread(invoke_aside, "outbox", "--limit", "0", url=url)
    assert bad.returncode == 2
