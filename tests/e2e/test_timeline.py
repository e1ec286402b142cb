"""Case.timeline over HTTP: every source in one newest-first list (contacts with refused attempts
and breaches, promises, payments and reversals, assignments, placements, recalls,
reclassifications, transitions) and nothing else, summaries without personal data, links to the
contact, promise and payment, agency scoping, pagination, and statements that do not grow with
the page size."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.e2e.conftest import StatementCounter
from tests.factories import Factory, MadeCase, global_id, writing
from tests.helpers import Gql, assert_bad_input

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
NOTES = "借款人说下周发工资 secret-note"
VALUE = "13912345678"

TIMELINE = """
query($id: ID!, $first: Int, $after: String) {
  case(id: $id) {
    timeline(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node {
        id at kind summary
        actor { login } assignee { login } agency { name }
        contact { id blocked breaches } promise { id status } payment { id reversed }
      } }
    }
  }
}
"""
ASSIGN = """
mutation($input: AssignCaseInput!) { assignCase(input: $input) { __typename } }
"""
PLACE = """
mutation($input: PlaceWithAgencyInput!) { placeWithAgency(input: $input) { __typename } }
"""
RECALL = """
mutation($input: RecallFromAgencyInput!) { recallFromAgency(input: $input) { __typename } }
"""


def shown(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Story:
    engine: AsyncEngine
    factory: Factory
    made: MadeCase
    collector: Any
    point_id: int = 0

    async def insert(self, table: Any, **values: Any) -> int:
        async with writing(self.engine) as conn:
            inserted = (await conn.execute(insert(table).values(**values))).inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    async def contact(self, at: datetime, outcome: str | None, **more: Any) -> int:
        more.setdefault("source", "STARTED")
        return await self.insert(
            tables.contacts,
            case_id=self.made.case.id,
            borrower_id=self.made.borrower.id,
            contact_point_id=self.point_id,
            staff_id=self.collector.id,
            at=at,
            channel="PHONE",
            direction="OUTBOUND",
            party="BORROWER",
            outcome=outcome,
            notes=NOTES,
            **more,
        )

    async def promise(self, at: datetime, due: date, status: str = "OPEN") -> int:
        return await self.insert(
            tables.promises,
            case_id=self.made.case.id,
            staff_id=self.collector.id,
            amount=Decimal("800.00"),
            currency="CNY",
            promised_on=at.date(),
            due_date=due,
            grace_days=3,
            status=status,
            paid_amount=Decimal("0.00"),
            created_at=at,
            version=1,
        )

    async def payment(self, at: datetime, amount: str, reversed_at: datetime | None = None) -> int:
        return await self.insert(
            tables.payments,
            case_id=self.made.case.id,
            debt_id=self.made.debts[0].id,
            amount=Decimal(amount),
            currency="CNY",
            paid_at=at,
            reference=f"TL-{uuid.uuid4().hex[:12]}",
            source="API",
            created_at=at,
            reversed=reversed_at is not None,
            reversed_at=reversed_at,
            reversal_reason="bounced: " + NOTES if reversed_at else None,
            version=1,
        )

    async def event(self, at: datetime, name: str, data: dict[str, Any]) -> int:
        return await self.insert(
            tables.case_events,
            case_id=self.made.case.id,
            at=at,
            actor_id=None,
            name=name,
            data=data,
        )


@pytest.fixture
async def story(engine: AsyncEngine) -> AsyncIterator[Story]:
    factory = Factory(engine)
    try:
        collector = await factory.staff(f"tl.{uuid.uuid4().hex[:8]}", team="East")
        made = await factory.case(days_past_due=40, assignee=collector.login)
        s = Story(engine, factory, made, collector)
        s.point_id = await s.insert(
            tables.contact_points,
            borrower_id=made.borrower.id,
            kind="PHONE",
            value=VALUE,
            owner="BORROWER",
            status="VERIFIED",
            created_at=T0,
            version=1,
        )
        yield s
    finally:
        await factory.cleanup()


async def timeline(
    gql: Gql, login: str, made: MadeCase, first: int = 100, after: str | None = None
) -> Any:
    data = await gql(login, TIMELINE, {"id": made.gid, "first": first, "after": after})
    return data["case"]["timeline"] if data["case"] else None


def entry(kind: str, id_: str, at: datetime, summary: str, **links: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": id_,
        "at": shown(at),
        "kind": kind,
        "summary": summary,
        "actor": None,
        "assignee": None,
        "agency": None,
        "contact": None,
        "promise": None,
        "payment": None,
    }
    return {**base, **links}


async def test_every_source_in_one_newest_first_list(gql: Gql, story: Story) -> None:
    login = {"login": story.collector.login}
    c1 = await story.contact(T0 + timedelta(hours=1), "NO_ANSWER")
    c2 = await story.contact(
        T0 + timedelta(hours=2),
        None,
        blocked=True,
        rule="QUIET_HOURS",
        next_allowed_at=T0 + timedelta(hours=9),
        breaches=["QUIET_HOURS"],
    )
    c3 = await story.contact(
        T0 + timedelta(hours=3),
        "RIGHT_PARTY_CONTACT",
        source="LOGGED",
        breaches=["QUIET_HOURS", "DAILY_ATTEMPTS"],
    )
    c4 = await story.contact(T0 + timedelta(hours=4), None)  # in progress
    due = (T0 + timedelta(days=7)).date()
    p1 = await story.promise(T0 + timedelta(hours=3), due)  # same instant as c3
    pay1 = await story.payment(T0 + timedelta(hours=5), "300.00")
    pay2 = await story.payment(T0 + timedelta(hours=6), "99.50", T0 + timedelta(hours=7))
    r1 = await story.event(
        T0 + timedelta(hours=8),
        "CaseReclassified",
        {
            "days_past_due": 41,
            "bucket": "M2",
            "classification": "MODERATE",
            "previous_bucket": "M2",
            "previous_classification": "MODERATE",
            "policy_version": "2026.1",
        },
    )
    t1 = await story.event(
        T0 + timedelta(hours=9),
        "CaseTransitioned",
        {
            "trigger": "CURE",
            "from_status": "OPEN",
            "to_status": "CLOSED",
            "from_stage": "COLLECTION",
            "to_stage": "COLLECTION",
            "close_reason": "CURED",
        },
    )
    # Shown from their own tables, or not timeline material: never shown as events.
    await story.event(T0 + timedelta(hours=10), "PaymentPosted", {"payment_id": pay1})
    await story.event(T0 + timedelta(hours=10), "ContactLogged", {"contact_id": c3})
    # Assignment, placement and recall through the API: their events are the real ones.
    gid = story.made.gid
    assert (
        await gql("manager", ASSIGN, {"input": {"caseId": gid, "assigneeLogin": "collector2"}})
    )["assignCase"]["__typename"] == "AssignCaseSuccess"
    assert (
        await gql("manager", PLACE, {"input": {"caseId": gid, "agencyName": "Zenith Collections"}})
    )["placeWithAgency"]["__typename"] == ("PlaceWithAgencySuccess")
    assert (await gql("manager", RECALL, {"input": {"caseId": gid}}))["recallFromAgency"][
        "__typename"
    ] == "RecallFromAgencySuccess"
    async with story.engine.connect() as conn:
        ev = tables.case_events.c
        api_events = (
            await conn.execute(
                select(ev.id, ev.at, ev.name, ev.data)
                .where(
                    ev.case_id == story.made.case.id,
                    ev.name.in_(["CaseAssigned", "CasePlaced", "CaseRecalled"]),
                )
                .order_by(ev.id)
            )
        ).all()
    assigned, placed, recalled = api_events
    manager = {"login": "manager"}

    page = await timeline(gql, "manager", story.made)
    nodes = [e["node"] for e in page["edges"]]
    point = "PHONE OUTBOUND to BORROWER"
    expected = [
        entry(
            "RECALLED",
            global_id("CaseEvent", recalled.id),
            recalled.at,
            "Recalled from the agency",
            actor=manager,
            agency={"name": "Zenith Collections"},
        ),
        entry(
            "PLACED",
            global_id("CaseEvent", placed.id),
            placed.at,
            f"Placed with an agency until {placed.data['placement_ends_on']}",
            actor=manager,
            agency={"name": "Zenith Collections"},
        ),
        entry(
            "ASSIGNED",
            global_id("CaseEvent", assigned.id),
            assigned.at,
            "Reassigned",
            actor=manager,
            assignee={"login": "collector2"},
        ),
        entry(
            "TRANSITION",
            global_id("CaseEvent", t1),
            T0 + timedelta(hours=9),
            "CURE: OPEN/COLLECTION → CLOSED/COLLECTION (CURED)",
        ),
        entry(
            "RECLASSIFIED",
            global_id("CaseEvent", r1),
            T0 + timedelta(hours=8),
            "Reclassified M2/MODERATE → M2/MODERATE (DPD 41, policy 2026.1)",
        ),
        entry(
            "PAYMENT_REVERSED",
            global_id("PaymentReversal", pay2),
            T0 + timedelta(hours=7),
            "Payment of 99.50 CNY reversed",
            payment={"id": global_id("Payment", pay2), "reversed": True},
        ),
        entry(
            "PAYMENT",
            global_id("Payment", pay2),
            T0 + timedelta(hours=6),
            "Payment of 99.50 CNY received (API)",
            payment={"id": global_id("Payment", pay2), "reversed": True},
        ),
        entry(
            "PAYMENT",
            global_id("Payment", pay1),
            T0 + timedelta(hours=5),
            "Payment of 300.00 CNY received (API)",
            payment={"id": global_id("Payment", pay1), "reversed": False},
        ),
        entry(
            "CONTACT",
            global_id("Contact", c4),
            T0 + timedelta(hours=4),
            f"{point}: in progress",
            actor=login,
            contact={"id": global_id("Contact", c4), "blocked": False, "breaches": []},
        ),
        # Same instant: the promise (source 2) before the contact (source 1).
        entry(
            "PROMISE",
            global_id("PromiseToPay", p1),
            T0 + timedelta(hours=3),
            f"Promise to pay 800.00 CNY by {due.isoformat()}: OPEN",
            actor=login,
            promise={"id": global_id("PromiseToPay", p1), "status": "OPEN"},
        ),
        entry(
            "CONTACT",
            global_id("Contact", c3),
            T0 + timedelta(hours=3),
            f"{point}: RIGHT_PARTY_CONTACT (breached QUIET_HOURS, DAILY_ATTEMPTS)",
            actor=login,
            contact={
                "id": global_id("Contact", c3),
                "blocked": False,
                "breaches": ["QUIET_HOURS", "DAILY_ATTEMPTS"],
            },
        ),
        entry(
            "CONTACT_BLOCKED",
            global_id("Contact", c2),
            T0 + timedelta(hours=2),
            f"{point} refused by QUIET_HOURS; next allowed {z(T0 + timedelta(hours=9))}",
            actor=login,
            contact={"id": global_id("Contact", c2), "blocked": True, "breaches": ["QUIET_HOURS"]},
        ),
        entry(
            "CONTACT",
            global_id("Contact", c1),
            T0 + timedelta(hours=1),
            f"{point}: NO_ANSWER",
            actor=login,
            contact={"id": global_id("Contact", c1), "blocked": False, "breaches": []},
        ),
    ]
    assert nodes == expected
    assert page["totalCount"] == len(expected)
    text = json.dumps(page, ensure_ascii=False)
    assert NOTES not in text and "secret-note" not in text and VALUE not in text


async def test_an_agency_sees_the_timeline_of_its_placed_case_only(gql: Gql, story: Story) -> None:
    await story.contact(T0 + timedelta(hours=1), "NO_ANSWER")
    # Placed with Acme by a manager: Acme's agent sees the case and its timeline.
    gid = story.made.gid
    await gql("manager", PLACE, {"input": {"caseId": gid, "agencyName": "Acme Recovery"}})
    page = await timeline(gql, "acme.agent1", story.made)
    kinds = [e["node"]["kind"] for e in page["edges"]]
    assert kinds == ["PLACED", "CONTACT"]
    # Internal staff are not the agency's to see: the actors show as null.
    assert [e["node"]["actor"] for e in page["edges"]] == [None, None]
    assert page["edges"][0]["node"]["agency"] == {"name": "Acme Recovery"}
    # Another agency, and the collector who no longer holds the case, see no case at all.
    assert await timeline(gql, "zenith.agent1", story.made) is None
    assert await timeline(gql, story.collector.login, story.made) is None


async def test_pages_follow_one_another(gql: Gql, story: Story) -> None:
    for n in range(7):
        await story.contact(T0 + timedelta(minutes=n % 3), "NO_ANSWER")  # ties on the instant
        await story.promise(T0 + timedelta(minutes=n % 3), (T0 + timedelta(days=3)).date())
    full = [e["node"]["id"] for e in (await timeline(gql, "manager", story.made))["edges"]]
    assert len(full) == len(set(full)) == 14
    seen: list[str] = []
    after = None
    while True:
        page = await timeline(gql, "manager", story.made, first=4, after=after)
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == full
    cursor = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    assert set(cursor) == {"l", "i", "v"} and len(cursor["v"]) == 2


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        base64.urlsafe_b64encode(b'{"l":"timeline","i":1,"v":["yesterday",1]}').decode(),
        base64.urlsafe_b64encode(b'{"l":"timeline","i":1,"v":["2026-01-01T00:00:00",1]}').decode(),
        base64.urlsafe_b64encode(b'{"l":"timeline","i":1,"v":["2026-01-01T00:00:00Z",9]}').decode(),
        base64.urlsafe_b64encode(b'{"l":"cases:DAYS_PAST_DUE_DESC","i":1,"v":5}').decode(),
        # Out of what the columns can hold: an instant past year 9999 in UTC, a 33-bit id.
        base64.urlsafe_b64encode(
            b'{"l":"timeline","i":1,"v":["9999-12-31T23:59:59-14:00",1]}'
        ).decode(),
        base64.urlsafe_b64encode(
            b'{"l":"timeline","i":2147483648,"v":["2026-01-01T00:00:00Z",1]}'
        ).decode(),
        base64.urlsafe_b64encode(
            b'{"l":"timeline","i":1,"v":["2026-01-01T00:00:00Z",true]}'
        ).decode(),
    ],
)
async def test_a_bad_cursor_is_bad_input(gql: Gql, story: Story, cursor: str) -> None:
    errors = await gql.errors(
        "manager", TIMELINE, {"id": story.made.gid, "first": 2, "after": cursor}
    )
    assert_bad_input(errors, "after")


async def test_statements_do_not_grow_with_the_page_size(
    gql: Gql, story: Story, sql_counter: StatementCounter
) -> None:
    # Sources interleaved, so that every page holds each kind of link.
    for n in range(12):
        at = T0 + timedelta(minutes=5 * n)
        await story.contact(at, "NO_ANSWER")
        await story.promise(at + timedelta(minutes=1), (T0 + timedelta(days=3)).date())
        await story.payment(at + timedelta(minutes=2), "10.00", at + timedelta(minutes=3))
    await timeline(gql, "manager", story.made, first=1)  # warm up
    counts = {}
    for first in (5, 40):
        sql_counter.reset()
        page = await timeline(gql, "manager", story.made, first=first)
        assert len(page["edges"]) == first
        counts[first] = sql_counter.count
    assert counts[5] == counts[40], counts
