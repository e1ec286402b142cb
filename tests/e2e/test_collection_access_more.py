"""Agency scoping of the collection work, beyond the access matrix (whose cells call root fields
only): the fields of a case and its borrower (Case.contacts, Case.promises, Case.payments,
Case.timeline, Borrower.contactPoints) and what they link to (Contact.agent, Contact.case,
PromiseToPay.collector and .agency, TimelineEntry.actor and .agency) read by every demo login,
on a case that was placed with one agency, recalled, and placed with another.

The case's history is made through the API, as it happens: Zenith works the case (a contact, a
promise credited to Zenith), the manager recalls it and places it with Acme, Acme logs a contact,
the core banking system posts a payment. Every login then reads the case: the roles that see
every case and Acme see it all, Acme without the staff and agency of Zenith (the names of
another agency's people are not Acme's to see); Zenith, whose placement ended, and the internal
roles whose scope does not hold it see nothing of it, by any path.

Also here: statements per page of myWorklist and Case.timeline for an agency's login (the
scoped path), and docs/API.md's worked examples of an agency logging an outcome and the core
banking system posting a payment, sent as written (only the IDs, reference and keys replaced).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.access import LOGINS
from tests.e2e.conftest import StatementCounter
from tests.e2e.contacts_support import placed_since, point
from tests.factories import Factory, MadeCase, global_id, writing
from tests.helpers import Gql, portfolio_today

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
PAYLOAD = "__typename ... on UserError { code field }"
NOTES = "zenith-secret-note 借款人说月底还"
PHONE, EMAIL, ADDRESS = "13812345678", "zhang.wei@example.org", "上海市浦东新区测试路5号"

PLACE = """
mutation($input: PlaceWithAgencyInput!) { r: placeWithAgency(input: $input) { __typename } }
"""
RECALL = """
mutation($input: RecallFromAgencyInput!) { r: recallFromAgency(input: $input) { __typename } }
"""
LOG = f"""
mutation($input: LogContactInput!) {{
  r: logContact(input: $input) {{ {PAYLOAD} ... on LogContactSuccess {{ contact {{ id }} }} }}
}}
"""
PROMISE = f"""
mutation($input: RecordPromiseInput!) {{
  r: recordPromise(input: $input) {{ {PAYLOAD} ... on RecordPromiseSuccess {{ promise {{ id }} }} }}
}}
"""
POST = f"""
mutation($input: PostPaymentInput!) {{
  r: postPayment(input: $input) {{ {PAYLOAD} ... on PostPaymentSuccess {{ payment {{ id }} }} }}
}}
"""
READ = """
query($id: ID!) {
  r: case(id: $id) {
    id
    borrower { contactPoints { id kind value owner status timeZone } }
    contacts(first: 10) {
      totalCount
      edges { node { id outcome notes agent { login } case { id } contactPoint { id } } }
    }
    promises { id status amount { amount } collector { login } agency { name } }
    payments(first: 10) {
      totalCount edges { node { id amount { amount currency } reversed debt { id } } }
    }
    timeline(first: 20) {
      totalCount
      edges { node { kind actor { login } agency { name } contact { id } promise { id }
                     payment { id } } }
    }
  }
}
"""
NODES = """
query($contact: ID!, $promise: ID!, $payment: ID!, $point: ID!, $case: ID!, $borrower: ID!) {
  contact: node(id: $contact) { id }
  promise: node(id: $promise) { id }
  payment: node(id: $payment) { id }
  point: node(id: $point) { id }
  case: node(id: $case) { id }
  borrower: node(id: $borrower) { id }
}
"""
SEARCH = "query($ref: String) { r: cases(filter: {search: $ref}) { totalCount } }"
ALLOWANCE = """
query($id: ID!) { r: contactAllowance(caseId: $id, channel: PHONE) { allowed } }
"""


async def ok(gql: Gql, login: str, document: str, variables: dict[str, Any]) -> Any:
    result = (await gql(login, document, variables))["r"]
    assert not result.get("code"), result
    return result


@dataclass
class History:
    """The case, its borrower's points, and the contacts, promise and payment made on it."""

    made: MadeCase
    points: dict[str, int]  # kind → id
    zenith_contact: str
    acme_contact: str
    promise: str
    payment: str
    in_progress: int  # a contact Zenith's agent started and never completed

    def gids(self) -> dict[str, str]:
        return {
            "contact": self.zenith_contact,
            "promise": self.promise,
            "payment": self.payment,
            "point": global_id("ContactPoint", self.points["PHONE"]),
            "case": self.made.gid,
            "borrower": global_id("Borrower", self.made.borrower.id),
        }


@pytest.fixture
async def factory(engine: AsyncEngine) -> AsyncIterator[Factory]:
    made = Factory(engine)
    yield made
    await made.cleanup()


async def build_history(gql: Gql, engine: AsyncEngine, factory: Factory) -> History:
    made = await factory.case(days_past_due=40)
    borrower = made.borrower.id
    points = {
        "PHONE": (await point(factory, borrower, value=PHONE, zone="Asia/Shanghai")).id,
        "EMAIL": (await point(factory, borrower, kind="EMAIL", value=EMAIL)).id,
        "ADDRESS": (await point(factory, borrower, kind="ADDRESS", value=ADDRESS)).id,
    }
    now = datetime.now(UTC).replace(microsecond=0)
    case = made.gid
    await ok(gql, "manager", PLACE, {"input": {"caseId": case, "agencyName": "Zenith Collections"}})
    await placed_since(engine, made.case.id, now - timedelta(days=1))
    talk = await ok(
        gql,
        "zenith.agent1",
        LOG,
        {
            "input": {
                "caseId": case,
                "channel": "PHONE",
                "direction": "INBOUND",
                "outcome": "PROMISE_TO_PAY",
                "contactPointId": global_id("ContactPoint", points["PHONE"]),
                "occurredAt": (now - timedelta(hours=3)).isoformat(),
                "notes": NOTES,
            }
        },
    )
    zenith_contact = talk["contact"]["id"]
    promised = await ok(
        gql,
        "zenith.agent1",
        PROMISE,
        {
            "input": {
                "caseId": case,
                "amount": "800.00",
                "currency": "CNY",
                "dueDate": (portfolio_today() + timedelta(days=5)).isoformat(),
                "contactId": zenith_contact,
            }
        },
    )
    # An attempt Zenith's agent reserved (as startContact leaves it), still without an outcome.
    async with writing(engine) as conn:
        staff_id = await _staff_id(conn, "zenith.agent1")
        inserted = await conn.execute(
            insert(tables.contacts).values(
                case_id=made.case.id,
                borrower_id=borrower,
                staff_id=staff_id,
                contact_point_id=points["PHONE"],
                at=now - timedelta(hours=2),
                channel="PHONE",
                direction="OUTBOUND",
                party="BORROWER",
                outcome=None,
                notes="",
                source="STARTED",
                blocked=False,
                breaches=[],
                consented=False,
            )
        )
        assert inserted.inserted_primary_key is not None
        in_progress = int(inserted.inserted_primary_key[0])
    await ok(gql, "manager", RECALL, {"input": {"caseId": case}})
    await ok(gql, "manager", PLACE, {"input": {"caseId": case, "agencyName": "Acme Recovery"}})
    await placed_since(engine, made.case.id, now - timedelta(minutes=90))
    logged = await ok(
        gql,
        "acme.agent1",
        LOG,
        {
            "input": {
                "caseId": case,
                "channel": "PHONE",
                "direction": "INBOUND",
                "outcome": "RIGHT_PARTY_CONTACT",
                "occurredAt": (now - timedelta(hours=1)).isoformat(),
            }
        },
    )
    paid = await ok(
        gql,
        "core.banking",
        POST,
        {
            "input": {
                "debtId": global_id("Debt", made.debts[0].id),
                "amount": "10.00",
                "currency": "CNY",
                "paidAt": (now - timedelta(minutes=30)).isoformat(),
                "reference": f"SCOPE-{uuid.uuid4().hex[:12]}",
            }
        },
    )
    return History(
        made,
        points,
        zenith_contact,
        logged["contact"]["id"],
        promised["promise"]["id"],
        paid["payment"]["id"],
        in_progress,
    )


async def _staff_id(conn: Any, login: str) -> int:
    s = tables.staff.c
    return int((await conn.execute(select(s.id).where(s.login == login))).scalar_one())


# ---- Every login reads the case's collection work, inside its scope only -----------------------


def sees_case(login: str) -> bool:
    """The case is placed with Acme now: the roles that see every case and Acme's staff see it."""
    role = LOGINS[login]
    return role.sees_all_cases or role.agency == "Acme Recovery"


def staff_as_seen(viewer: str, login: str) -> dict[str, str] | None:
    """Internal staff see every staff member; an agency's staff only their own agency's."""
    role = LOGINS[viewer]
    return {"login": login} if role.internal or LOGINS[login].agency == role.agency else None


def agency_as_seen(viewer: str, name: str) -> dict[str, str] | None:
    role = LOGINS[viewer]
    return {"name": name} if role.internal or name == role.agency else None


def expected_read(viewer: str, history: History) -> dict[str, Any]:
    role = LOGINS[viewer]
    made = history.made

    def notes(text: str) -> str | None:
        return text if "contact:make" in role.permissions else None

    phone = global_id("ContactPoint", history.points["PHONE"])
    in_progress = global_id("Contact", history.in_progress)
    contact = {"case": {"id": made.gid}}
    return {
        "id": made.gid,
        "borrower": {
            # Not in legal proceedings: masked for every role (none sees contact points clear).
            "contactPoints": [
                {
                    "id": global_id("ContactPoint", history.points[kind]),
                    "kind": kind,
                    "value": value,
                    "owner": "BORROWER",
                    "status": "VERIFIED",
                    "timeZone": zone,
                }
                for kind, value, zone in (
                    ("PHONE", "138****5678", "Asia/Shanghai"),
                    ("EMAIL", "z***@example.org", None),
                    ("ADDRESS", "****", None),
                )
            ]
        },
        "contacts": {
            "totalCount": 3,
            "edges": [
                {
                    "node": {
                        "id": history.acme_contact,
                        "outcome": "RIGHT_PARTY_CONTACT",
                        "notes": notes(""),
                        "agent": staff_as_seen(viewer, "acme.agent1"),
                        "contactPoint": None,
                        **contact,
                    }
                },
                {
                    "node": {
                        "id": in_progress,
                        "outcome": None,
                        "notes": notes(""),
                        "agent": staff_as_seen(viewer, "zenith.agent1"),
                        "contactPoint": {"id": phone},
                        **contact,
                    }
                },
                {
                    "node": {
                        "id": history.zenith_contact,
                        "outcome": "PROMISE_TO_PAY",
                        "notes": notes(NOTES),
                        "agent": staff_as_seen(viewer, "zenith.agent1"),
                        "contactPoint": {"id": phone},
                        **contact,
                    }
                },
            ],
        },
        "promises": [
            {
                "id": history.promise,
                "status": "OPEN",
                "amount": {"amount": "800.00"},
                # Credited to Zenith, whose contact it came from.
                "collector": staff_as_seen(viewer, "zenith.agent1"),
                "agency": agency_as_seen(viewer, "Zenith Collections"),
            }
        ],
        "payments": {
            "totalCount": 1,
            "edges": [
                {
                    "node": {
                        "id": history.payment,
                        "amount": {"amount": "10.00", "currency": "CNY"},
                        "reversed": False,
                        "debt": {"id": global_id("Debt", made.debts[0].id)},
                    }
                }
            ],
        },
        "timeline": {
            "totalCount": 8,
            "edges": [
                {"node": node}
                for node in (
                    entry(
                        "PLACED",
                        staff_as_seen(viewer, "manager"),
                        agency=agency_as_seen(viewer, "Acme Recovery"),
                    ),
                    entry(
                        "RECALLED",
                        staff_as_seen(viewer, "manager"),
                        agency=agency_as_seen(viewer, "Zenith Collections"),
                    ),
                    entry(
                        "PROMISE", staff_as_seen(viewer, "zenith.agent1"), promise=history.promise
                    ),
                    entry(
                        "PLACED",
                        staff_as_seen(viewer, "manager"),
                        agency=agency_as_seen(viewer, "Zenith Collections"),
                    ),
                    entry(
                        "PAYMENT", staff_as_seen(viewer, "core.banking"), payment=history.payment
                    ),
                    entry(
                        "CONTACT",
                        staff_as_seen(viewer, "acme.agent1"),
                        contact=history.acme_contact,
                    ),
                    entry("CONTACT", staff_as_seen(viewer, "zenith.agent1"), contact=in_progress),
                    entry(
                        "CONTACT",
                        staff_as_seen(viewer, "zenith.agent1"),
                        contact=history.zenith_contact,
                    ),
                )
            ],
        },
    }


def entry(
    kind: str,
    actor: dict[str, str] | None,
    *,
    agency: dict[str, str] | None = None,
    contact: str | None = None,
    promise: str | None = None,
    payment: str | None = None,
) -> dict[str, Any]:
    """A timeline node as the viewer sees it (actor and agency already as the viewer sees them)."""
    return {
        "kind": kind,
        "actor": actor,
        "agency": agency,
        "contact": {"id": contact} if contact else None,
        "promise": {"id": promise} if promise else None,
        "payment": {"id": payment} if payment else None,
    }


READERS = (
    "admin",
    "manager",
    "lead1",
    "collector1",
    "legal1",
    "auditor1",
    "acme.manager",
    "acme.agent1",
    "zenith.agent1",
    "core.banking",
)


def test_the_readers_hold_every_role() -> None:
    assert {name for login in READERS for name in LOGINS[login].roles} == {
        name for role in LOGINS.values() for name in role.roles
    }


@pytest.mark.parametrize("login", READERS)
async def test_every_login_reads_the_case_s_collection_work_only_inside_its_scope(
    gql: Gql, engine: AsyncEngine, factory: Factory, login: str
) -> None:
    history = await build_history(gql, engine, factory)
    made = history.made
    body = (await gql.raw(login, READ, {"id": made.gid})).json()
    assert "errors" not in body, body
    nodes = await gql(login, NODES, history.gids())
    search = (await gql(login, SEARCH, {"ref": made.case.reference}))["r"]
    allowance = (await gql.raw(login, ALLOWANCE, {"id": made.gid})).json()
    if not sees_case(login):
        # Zenith, whose placement ended, and the internal roles whose scope does not hold the
        # case: nothing of it by any path, exactly as for an id that does not exist.
        assert body == {"data": {"r": None}}
        assert nodes == dict.fromkeys(history.gids())
        assert search == {"totalCount": 0}
        assert allowance["data"] is None
        assert [e["extensions"]["code"] for e in allowance["errors"]] == ["BAD_USER_INPUT"]
        return
    shown = body["data"]["r"]
    assert shown == expected_read(login, history)
    assert nodes == {key: {"id": value} for key, value in history.gids().items()}
    assert search == {"totalCount": 1}
    assert allowance["data"]["r"] is not None
    if LOGINS[login].agency:
        # Nothing of Zenith reaches Acme, not even in a summary.
        text = str((await gql(login, SUMMARIES, {"id": made.gid}))["r"])
        assert "Zenith" not in text and "zenith" not in text


SUMMARIES = """
query($id: ID!) { r: case(id: $id) { timeline(first: 20) { edges { node { summary } } } } }
"""


# ---- The agency whose placement ended acts on nothing of the case -------------------------------

COMPLETE = f"""
mutation($input: CompleteContactInput!) {{
  r: completeContact(input: $input) {{
    {PAYLOAD} ... on CompleteContactSuccess {{ contact {{ id }} }}
  }}
}}
"""
START = f"""
mutation($input: StartContactInput!) {{
  r: startContact(input: $input) {{ {PAYLOAD} ... on StartContactSuccess {{ contact {{ id }} }} }}
}}
"""
ADD_POINT = f"""
mutation($input: AddContactPointInput!) {{
  r: addContactPoint(input: $input) {{ {PAYLOAD} }}
}}
"""
UPDATE_POINT = f"""
mutation($input: UpdateContactPointInput!) {{
  r: updateContactPoint(input: $input) {{ {PAYLOAD} }}
}}
"""


async def case_rows(engine: AsyncEngine, history: History) -> tuple[Any, ...]:
    """Everything a refused call must leave alone: the case, its contacts, promises, payments
    and the borrower's points."""
    made = history.made
    async with engine.connect() as conn:
        rows = []
        for table, column in (
            (tables.cases, tables.cases.c.id),
            (tables.contacts, tables.contacts.c.case_id),
            (tables.promises, tables.promises.c.case_id),
            (tables.payments, tables.payments.c.case_id),
        ):
            stmt = select(table).where(column == made.case.id).order_by(table.c.id)
            rows.append([tuple(r) for r in (await conn.execute(stmt)).all()])
        cp = tables.contact_points.c
        stmt = select(tables.contact_points).where(cp.borrower_id == made.borrower.id)
        rows.append([tuple(r) for r in (await conn.execute(stmt.order_by(cp.id))).all()])
    return tuple(rows)


async def test_the_agency_whose_placement_ended_acts_on_nothing_of_the_case(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    history = await build_history(gql, engine, factory)
    made = history.made
    case, phone = made.gid, global_id("ContactPoint", history.points["PHONE"])
    attempt = global_id("Contact", history.in_progress)
    before = await case_rows(engine, history)
    calls = [
        (
            COMPLETE,
            {"contactId": attempt, "outcome": "NO_ANSWER"},
            "CONTACT_NOT_FOUND",
            "contactId",
        ),
        (START, {"caseId": case, "channel": "PHONE"}, "CASE_NOT_FOUND", "caseId"),
        (
            LOG,
            {"caseId": case, "channel": "PHONE", "direction": "INBOUND", "outcome": "NO_ANSWER"},
            "CASE_NOT_FOUND",
            "caseId",
        ),
        (
            PROMISE,
            {
                "caseId": case,
                "amount": "100.00",
                "currency": "CNY",
                "dueDate": portfolio_today().isoformat(),
            },
            "CASE_NOT_FOUND",
            "caseId",
        ),
        (
            ADD_POINT,
            {
                "borrowerId": global_id("Borrower", made.borrower.id),
                "kind": "PHONE",
                "value": "13900001111",
            },
            "BORROWER_NOT_FOUND",
            "borrowerId",
        ),
        (
            UPDATE_POINT,
            {"contactPointId": phone, "status": "INVALID"},
            "CONTACT_POINT_NOT_FOUND",
            "contactPointId",
        ),
    ]
    for document, variables, code, field in calls:
        result = (await gql("zenith.agent1", document, {"input": variables}))["r"]
        assert result == {"__typename": "NotFoundError", "code": code, "field": field}, document
    # Acme, which holds the case now, sees Zenith's attempt but may not complete it.
    result = (
        await gql(
            "acme.agent1", COMPLETE, {"input": {"contactId": attempt, "outcome": "NO_ANSWER"}}
        )
    )["r"]
    assert result == {
        "__typename": "RuleViolationError",
        "code": "NOT_YOUR_CONTACT",
        "field": "contactId",
    }
    assert await case_rows(engine, history) == before


# ---- Statements per page for an agency's login (the scoped path) --------------------------------

WORKLIST = """
query($first: Int) {
  r: myWorklist(first: $first) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      case { id reference agency { name } assignee { login } borrower { fullName phone } }
      reasons contactAllowedNow nextContactAt
    } }
  }
}
"""
TIMELINE = """
query($id: ID!, $first: Int) {
  r: case(id: $id) {
    timeline(first: $first) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node {
        id at kind summary actor { login } assignee { login } agency { name }
        contact { id agent { login } } promise { id collector { login } agency { name } }
        payment { id reversed }
      } }
    }
  }
}
"""


async def insert_row(engine: AsyncEngine, table: Any, **values: Any) -> int:
    async with writing(engine) as conn:
        inserted = (await conn.execute(insert(table).values(**values))).inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


async def contact_row(
    engine: AsyncEngine, made: MadeCase, point_id: int, staff_id: int, at: datetime, **more: Any
) -> int:
    return await insert_row(
        engine,
        tables.contacts,
        case_id=made.case.id,
        borrower_id=made.borrower.id,
        contact_point_id=point_id,
        staff_id=staff_id,
        at=at,
        channel="PHONE",
        direction="OUTBOUND",
        party="BORROWER",
        outcome="NO_ANSWER",
        notes="",
        source="LOGGED",
        blocked=False,
        breaches=[],
        consented=False,
        **more,
    )


async def test_worklist_statements_do_not_grow_with_the_page_size_for_an_agency(
    gql: Gql, engine: AsyncEngine, factory: Factory, sql_counter: StatementCounter
) -> None:
    agency = await factory.agency()
    agent = await factory.staff(roles=("agency_agent",), agency=agency.name)
    now = datetime.now(UTC)
    async with engine.connect() as conn:
        agent_id = await _staff_id(conn, agent.login)
    for n in range(12):
        made = await factory.case(days_past_due=10 + n, agency=agency.name)
        phone = await point(factory, made.borrower.id, zone="Asia/Shanghai")
        await contact_row(engine, made, phone.id, agent_id, now - timedelta(hours=1))
        if n % 3 == 0:
            await insert_row(
                engine,
                tables.promises,
                case_id=made.case.id,
                staff_id=agent_id,
                agency_id=agency.id,
                amount=Decimal("800.00"),
                currency="CNY",
                promised_on=portfolio_today(),
                due_date=portfolio_today(),
                grace_days=3,
                status="OPEN",
                paid_amount=Decimal("0.00"),
                created_at=now - timedelta(minutes=50),
                version=1,
            )
    await gql(agent.login, WORKLIST, {"first": 1})  # warm up
    counts = {}
    for first in (2, 10):
        sql_counter.reset()
        page = (await gql(agent.login, WORKLIST, {"first": first}))["r"]
        assert len(page["edges"]) == first and page["totalCount"] == 12
        assert {e["node"]["case"]["agency"]["name"] for e in page["edges"]} == {agency.name}
        counts[first] = sql_counter.count
    assert counts[2] == counts[10], counts


async def test_timeline_statements_do_not_grow_with_the_page_size_for_an_agency(
    gql: Gql, engine: AsyncEngine, factory: Factory, sql_counter: StatementCounter
) -> None:
    """Entries by Acme's agent, Zenith's and an internal collector, promises credited to Acme and
    to Zenith, payments: every kind of link, each judged visible or not for Acme's agent."""
    made = await factory.case(days_past_due=40, agency="Acme Recovery")
    phone = await point(factory, made.borrower.id, zone="Asia/Shanghai")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    async with engine.connect() as conn:
        people = [await _staff_id(conn, x) for x in ("acme.agent1", "zenith.agent1", "collector1")]
        agencies = dict(
            (await conn.execute(select(tables.agencies.c.name, tables.agencies.c.id))).all()
        )
    credited = [agencies["Acme Recovery"], agencies["Zenith Collections"], None]
    for n in range(12):
        at = start + timedelta(minutes=5 * n)
        who = n % 3
        await contact_row(engine, made, phone.id, people[who], at)
        await insert_row(
            engine,
            tables.promises,
            case_id=made.case.id,
            staff_id=people[who],
            agency_id=credited[who],
            amount=Decimal("800.00"),
            currency="CNY",
            promised_on=at.date(),
            due_date=at.date() + timedelta(days=3),
            grace_days=3,
            status="SUPERSEDED",
            paid_amount=Decimal("0.00"),
            created_at=at + timedelta(minutes=1),
            version=1,
        )
        await insert_row(
            engine,
            tables.payments,
            case_id=made.case.id,
            debt_id=made.debts[0].id,
            amount=Decimal("10.00"),
            currency="CNY",
            paid_at=at + timedelta(minutes=2),
            reference=f"AG-{uuid.uuid4().hex[:12]}",
            source="API",
            created_at=at + timedelta(minutes=2),
            reversed=False,
            version=1,
        )
    variables = {"id": made.gid, "first": 1}
    await gql("acme.agent1", TIMELINE, variables)  # warm up
    counts = {}
    for first in (5, 30):
        sql_counter.reset()
        page = (await gql("acme.agent1", TIMELINE, {**variables, "first": first}))["r"]["timeline"]
        assert len(page["edges"]) == first and page["totalCount"] == 36
        counts[first] = sql_counter.count
    assert counts[5] == counts[30], counts
    # What Acme's agent sees of the links: its own agency's people and agency, nobody else's.
    nodes = [e["node"] for e in page["edges"]]
    assert {str(n["actor"]) for n in nodes} == {"{'login': 'acme.agent1'}", "None"}
    promises = [n["promise"] for n in nodes if n["promise"]]
    assert {(str(p["collector"]), str(p["agency"])) for p in promises} == {
        ("{'login': 'acme.agent1'}", "{'name': 'Acme Recovery'}"),
        ("None", "None"),
    }


# ---- docs/API.md's worked examples of the agency and the core banking system, sent as written ----


def documented(operation: str) -> str:
    """The one ```graphql block of docs/API.md whose mutation calls ``operation``."""
    text = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    blocks = [
        b
        for b in re.findall(r"```graphql\n(.*?)```", text, re.S)
        if re.search(rf"^mutation {{\s*{operation}\(input:", b, re.M)
    ]
    assert len(blocks) == 1, (operation, len(blocks))
    return blocks[0]


async def test_the_agency_s_documented_log_contact_runs_as_written(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(days_past_due=40, agency="Acme Recovery")
    await placed_since(engine, made.case.id, datetime.now(UTC) - timedelta(days=3))
    await point(factory, made.borrower.id, zone="Asia/Shanghai")  # the primary number
    document = documented("logContact").replace('"Q2FzZTox"', f'"{made.gid}"')
    key = f"dialler-batch-{uuid.uuid4().hex[:8]}"
    document = document.replace('"dialler-batch-42-0007"', f'"{key}"')
    # An instant inside the placement and the CN profile's hours (10:15 in Shanghai).
    occurred = (datetime.now(UTC) - timedelta(days=1)).astimezone(SHANGHAI)
    occurred = occurred.replace(hour=10, minute=15, second=0, microsecond=0)
    document = document.replace('"2026-11-27T10:15:00+08:00"', f'"{occurred.isoformat()}"')
    result = (await gql("acme.agent1", document))["logContact"]
    assert result["__typename"] == "LogContactSuccess", result
    assert (result["contact"]["blocked"], result["contact"]["breaches"]) == (False, [])
    # The same key again returns the contact first logged.
    assert (await gql("acme.agent1", document))["logContact"] == result
    # Another agency, sending the same example, finds no such case.
    other = (await gql("zenith.agent1", document.replace(key, key + "-z")))["logContact"]
    assert (other["__typename"], other["code"], other["field"]) == (
        "NotFoundError",
        "CASE_NOT_FOUND",
        "caseId",
    )


async def test_the_core_banking_system_s_documented_payment_runs_as_written(
    gql: Gql, factory: Factory
) -> None:
    # The factory's debt: 20000.00 principal, 800.00 interest, 120.50 penalty, 50.00 fee,
    # instalments of 1500.00 due 40 and 10 days ago and in 20 days (DPD 40, M2, MODERATE).
    made = await factory.case(days_past_due=40)
    document = documented("postPayment")
    document = document.replace('"RGVidDox"', f'"{global_id("Debt", made.debts[0].id)}"')
    reference = f"CB-{uuid.uuid4().hex[:12]}"
    document = document.replace('"CB-20261127-0001"', f'"{reference}"')
    document = document.replace('"5b0f0c1e-8d4e-4c52-9b53-1f2a3c4d5e6f"', f'"{uuid.uuid4()}"')
    paid = (datetime.now(UTC) - timedelta(days=1)).astimezone(SHANGHAI)
    paid = paid.replace(hour=10, minute=15, second=0, microsecond=0)
    document = document.replace('"2026-11-27T10:15:00+08:00"', f'"{paid.isoformat()}"')
    for login in ("acme.agent1", "collector1"):  # no payment:post: nothing posted
        errors = await gql.errors(login, document)
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    result = (await gql("core.banking", document))["postPayment"]
    assert result["__typename"] == "PostPaymentSuccess", result
    # By hand: 1500.00 goes penalty 120.50, fee 50.00, interest 800.00, principal 529.50; it
    # settles the instalment due 40 days ago, so the oldest unpaid one is 10 days old.
    assert result["payment"]["amount"] == {"amount": "1500.00", "currency": "CNY"}
    assert result["payment"]["allocations"] == [
        {"component": "PENALTY", "amount": {"amount": "120.50"}},
        {"component": "FEE", "amount": {"amount": "50.00"}},
        {"component": "INTEREST", "amount": {"amount": "800.00"}},
        {"component": "PRINCIPAL", "amount": {"amount": "529.50"}},
    ]
    assert result["debt"] == {"outstanding": {"amount": "19470.50"}}
    assert result["case"] == {
        "status": "OPEN",
        "closeReason": None,
        "daysPastDue": 10,
        "bucket": "M1",
        "classification": "MILD",
        "totalOutstanding": {"amount": "19470.50"},
    }


async def test_an_agency_cannot_log_a_contact_from_before_its_placement(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    made = await factory.case(days_past_due=40, agency="Acme Recovery")  # placed a day ago
    await point(factory, made.borrower.id, zone="Asia/Shanghai")
    before = await case_rows(engine, History(made, {}, "", "", "", "", 0))
    occurred = (datetime.now(UTC) - timedelta(days=20)).astimezone(SHANGHAI)
    occurred = occurred.replace(hour=10, minute=15, second=0, microsecond=0)
    result = (
        await gql(
            "acme.agent1",
            LOG,
            {
                "input": {
                    "caseId": made.gid,
                    "channel": "PHONE",
                    "direction": "OUTBOUND",
                    "outcome": "PROMISE_TO_PAY",
                    "occurredAt": occurred.isoformat(),
                }
            },
        )
    )["r"]
    assert result == {
        "__typename": "ValidationError",
        "code": "OCCURRED_BEFORE_PLACEMENT",
        "field": "occurredAt",
    }
    assert await case_rows(engine, History(made, {}, "", "", "", "", 0)) == before


async def test_a_contact_is_logged_from_the_placement_s_start_and_the_case_s_first_day(
    gql: Gql, engine: AsyncEngine, factory: Factory
) -> None:
    """The bounds to the second: an agency logs from the instant the case was placed with it; the
    lender's staff log from the first local day of the case, not the day before."""
    made = await factory.case(days_past_due=40, agency="Acme Recovery")
    await point(factory, made.borrower.id, zone="Asia/Shanghai")
    c = tables.cases.c
    async with engine.connect() as conn:
        placed_at, opened_on = (
            await conn.execute(select(c.placed_at, c.opened_on).where(c.id == made.case.id))
        ).one()
    placed_at = placed_at.replace(tzinfo=UTC) if placed_at.tzinfo is None else placed_at

    async def log(login: str, at: datetime) -> dict[str, Any]:
        variables = {
            "input": {
                "caseId": made.gid,
                "channel": "PHONE",
                "direction": "INBOUND",
                "outcome": "RIGHT_PARTY_CONTACT",
                "occurredAt": at.isoformat(),
            }
        }
        return dict((await gql(login, LOG, variables))["r"])

    early = await log("acme.agent1", placed_at - timedelta(seconds=1))
    assert (early["code"], early["field"]) == ("OCCURRED_BEFORE_PLACEMENT", "occurredAt")
    assert (await log("acme.agent1", placed_at))["__typename"] == "LogContactSuccess"
    first_day = datetime.combine(opened_on, datetime.min.time(), SHANGHAI)
    before = await log("manager", first_day - timedelta(seconds=1))
    assert (before["code"], before["field"]) == ("OCCURRED_BEFORE_CASE", "occurredAt")
    assert (await log("manager", first_day))["__typename"] == "LogContactSuccess"
    async with engine.connect() as conn:
        logged = (
            await conn.execute(
                select(func.count())
                .select_from(tables.contacts)
                .where(tables.contacts.c.case_id == made.case.id)
            )
        ).scalar_one()
    assert logged == 2
