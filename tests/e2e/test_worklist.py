"""myWorklist over HTTP, against an app whose clock the test sets: whose cases (a collector's and a
team lead's own, an agency's current placements), the priority order and its reasons (callbacks
due by the end of the local day, promises due today, broken promises, then DPD and amount), each
rule at its boundary, whether the borrower may be called now (counts shared across cases and
agencies, quiet hours), pagination, and statements that do not grow with the page size."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from store import tables
from tests.e2e.conftest import StatementCounter
from tests.e2e.contacts_support import ALLOWANCE
from tests.factories import Factory, MadeCase, writing
from tests.helpers import Gql, assert_bad_input, assert_forbidden

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The worklist's local day: today in Shanghai, the retail portfolio's zone; 10:00 there.
DAY = datetime.now(SHANGHAI).date()
NOW = datetime.combine(DAY, time(10, 0), SHANGHAI).astimezone(UTC)
DAY_END = datetime.combine(DAY + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)
NEXT_MORNING = datetime.combine(DAY + timedelta(days=1), time(8, 0), SHANGHAI).astimezone(UTC)

WORKLIST = """
query($first: Int, $after: String) {
  myWorklist(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      case { id reference borrower { fullName } }
      reasons contactAllowedNow nextContactAt
    } }
  }
}
"""


class MovableClock:
    """The app's clock, set by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.date()


@pytest.fixture(scope="module")
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture(scope="module")
async def wgql(engine: AsyncEngine, settings: Settings, clock: MovableClock) -> AsyncIterator[Gql]:
    """The real app over the shared database, with the test's clock."""
    app = create_app(settings, engine=engine, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worklist.test") as h:
            yield Gql(h, settings)


@pytest.fixture(autouse=True)
def reset_clock(clock: MovableClock) -> None:
    clock.at = NOW


def instant(value: datetime) -> str:
    """An instant as reasons write it."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def shown(value: datetime) -> str:
    """An instant as the DateTime scalar shows it."""
    return value.astimezone(UTC).isoformat()


@dataclass
class Desk:
    """Rows of one test: a factory, a collector of their own, and helpers to add work."""

    engine: AsyncEngine
    factory: Factory
    tag: str
    collector: Any = None
    made: dict[str, MadeCase] = field(default_factory=dict)

    async def case(self, name: str, dpd: int, **shape: Any) -> MadeCase:
        shape.setdefault("assignee", self.collector.login)
        made = await self.factory.case(days_past_due=dpd, **shape)
        self.made[name] = made
        return made

    async def insert(self, table: Any, **values: Any) -> int:
        async with writing(self.engine) as conn:
            inserted = (await conn.execute(insert(table).values(**values))).inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    async def contact(self, made: MadeCase, at: datetime, outcome: str | None, **more: Any) -> int:
        values = {
            "case_id": made.case.id,
            "borrower_id": made.borrower.id,
            "at": at,
            "channel": "PHONE",
            "direction": "OUTBOUND",
            "party": "BORROWER",
            "outcome": outcome,
            "completed_at": at + timedelta(minutes=3) if outcome else None,
            "source": "STARTED",
            **more,
        }
        return await self.insert(tables.contacts, **values)

    async def promise(self, made: MadeCase, due: date, status: str, grace: int = 3) -> int:
        return await self.insert(
            tables.promises,
            case_id=made.case.id,
            amount=Decimal("500.00"),
            currency="CNY",
            promised_on=due - timedelta(days=7),
            due_date=due,
            grace_days=grace,
            status=status,
            paid_amount=Decimal("0.00"),
            created_at=NOW - timedelta(days=8),
            version=1,
        )

    async def phone(self, made: MadeCase, status: str = "VERIFIED", zone: str | None = None) -> int:
        return await self.insert(
            tables.contact_points,
            borrower_id=made.borrower.id,
            kind="PHONE",
            value=f"1390000{self.tag[:4]}",
            owner="BORROWER",
            status=status,
            time_zone=zone,
            created_at=NOW - timedelta(days=30),
            version=1,
        )


@pytest.fixture
async def desk(engine: AsyncEngine) -> AsyncIterator[Desk]:
    factory = Factory(engine)
    tag = uuid.uuid4().hex[:8]
    try:
        d = Desk(engine, factory, tag)
        d.collector = await factory.staff(f"work.{tag}", team=f"Work-{tag}")
        yield d
    finally:
        await factory.cleanup()


async def worklist(gql: Gql, login: str, first: int = 50, after: str | None = None) -> Any:
    return (await gql(login, WORKLIST, {"first": first, "after": after}))["myWorklist"]


def decoded_cursor(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def cursor_value(cursor: str) -> Any:
    return decoded_cursor(cursor)["v"]


def references(page: Any) -> list[str]:
    return [e["node"]["case"]["reference"] for e in page["edges"]]


OUTSTANDING = "OUTSTANDING 20970.50 CNY"  # every factory case: 20000 + 800 + 120.50 + 50


async def test_priority_order_and_reasons(wgql: Gql, desk: Desk) -> None:
    a = await desk.case("callback", 10)
    await desk.contact(
        a, NOW - timedelta(days=1), "CALLBACK_REQUESTED", callback_at=NOW + timedelta(hours=3)
    )
    last = await desk.case("callback at the last second of the day", 1)
    await desk.contact(
        last,
        NOW - timedelta(days=1),
        "CALLBACK_REQUESTED",
        callback_at=DAY_END - timedelta(seconds=1),
    )
    tomorrow = await desk.case("callback tomorrow", 96)
    await desk.contact(
        tomorrow, NOW - timedelta(hours=2), "CALLBACK_REQUESTED", callback_at=DAY_END
    )
    answered = await desk.case("callback answered", 95)
    await desk.contact(
        answered, NOW - timedelta(days=2), "CALLBACK_REQUESTED", callback_at=NOW - timedelta(days=1)
    )
    await desk.contact(answered, NOW - timedelta(days=1), "NO_ANSWER")
    blocked_after = await desk.case("callback, then a refused attempt", 2)
    await desk.contact(
        blocked_after,
        NOW - timedelta(days=1),
        "CALLBACK_REQUESTED",
        callback_at=NOW - timedelta(hours=1),
    )
    await desk.contact(
        blocked_after, NOW - timedelta(hours=5), None, blocked=True, rule="QUIET_HOURS"
    )
    due = await desk.case("promise due today", 20)
    await desk.promise(due, DAY, "OPEN")
    broken = await desk.case("broken promise", 5)
    await desk.promise(broken, DAY - timedelta(days=10), "BROKEN")
    lapsed = await desk.case("open promise past its grace", 7)
    await desk.promise(lapsed, DAY - timedelta(days=4), "OPEN", grace=3)
    grace = await desk.case("open promise on its last day of grace", 3)
    await desk.promise(grace, DAY - timedelta(days=3), "OPEN", grace=3)
    kept = await desk.case("broken, then a kept promise", 97)
    await desk.promise(kept, DAY - timedelta(days=20), "BROKEN")
    await desk.promise(kept, DAY - timedelta(days=5), "KEPT")
    superseded = await desk.case("broken, then superseded", 4)
    await desk.promise(superseded, DAY - timedelta(days=20), "BROKEN")
    await desk.promise(superseded, DAY - timedelta(days=15), "SUPERSEDED")
    plain = await desk.case("plain", 90)
    # Not on the worklist: closed, on hold, someone else's.
    await desk.case("closed", 99, status="CLOSED")
    await desk.case("on hold", 99, status="ON_HOLD")
    await desk.case("someone else's", 99, assignee="collector1")

    page = await worklist(wgql, desk.collector.login)
    expected = [
        (a, [f"CALLBACK_REQUESTED {instant(NOW + timedelta(hours=3))}", "DPD 10"]),
        (blocked_after, [f"CALLBACK_REQUESTED {instant(NOW - timedelta(hours=1))}", "DPD 2"]),
        (last, [f"CALLBACK_REQUESTED {instant(DAY_END - timedelta(seconds=1))}", "DPD 1"]),
        (due, [f"PROMISE_DUE_TODAY {DAY.isoformat()}", "DPD 20"]),
        (lapsed, [f"PROMISE_BROKEN {(DAY - timedelta(days=4)).isoformat()}", "DPD 7"]),
        (broken, [f"PROMISE_BROKEN {(DAY - timedelta(days=10)).isoformat()}", "DPD 5"]),
        (superseded, [f"PROMISE_BROKEN {(DAY - timedelta(days=20)).isoformat()}", "DPD 4"]),
        (kept, ["DPD 97"]),
        (tomorrow, ["DPD 96"]),
        (answered, ["DPD 95"]),
        (plain, ["DPD 90"]),
        (grace, ["DPD 3"]),
    ]
    assert references(page) == [m.case.reference for m, _ in expected]
    assert [e["node"]["reasons"] for e in page["edges"]] == [
        [*reasons, OUTSTANDING] for _, reasons in expected
    ]
    assert page["totalCount"] == len(expected)
    assert page["pageInfo"]["hasNextPage"] is False
    # No usable phone number: not callable, and waiting will not change that.
    assert {
        (e["node"]["contactAllowedNow"], e["node"]["nextContactAt"]) for e in page["edges"]
    } == {(False, None)}


async def test_only_a_voice_contact_with_the_borrower_answers_a_callback(
    wgql: Gql, desk: Desk
) -> None:
    asked, due = NOW - timedelta(days=1), NOW - timedelta(hours=2)
    after, early = due + timedelta(minutes=30), due - timedelta(seconds=1)
    rpc, inbound = "RIGHT_PARTY_CONTACT", {"direction": "INBOUND"}
    # (case, when the later contact happened, its outcome, its other columns, answers it?)
    later: list[tuple[str, datetime, str | None, dict[str, Any], bool]] = [
        ("a text delivered after the time", after, "DELIVERED", {"channel": "SMS"}, False),
        ("a letter after the time", after, "DELIVERED", {"channel": "LETTER"}, False),
        ("an unanswered call a second early", early, "NO_ANSWER", {}, False),
        ("a conversation a second early", early, rpc, {}, False),
        ("a call to the guarantor after the time", after, rpc, {"party": "GUARANTOR"}, False),
        ("a refused attempt after the time", after, None, {"blocked": True}, False),
        ("a call started, not completed", after, None, {}, False),
        (
            "the borrower texting in",
            asked + timedelta(hours=1),
            rpc,
            {"channel": "SMS", **inbound},
            False,
        ),
        ("the borrower calling in before asking", asked - timedelta(hours=1), rpc, inbound, False),
        ("a guarantor calling in", early, rpc, {"party": "GUARANTOR", **inbound}, False),
        ("an unanswered call at the time", due, "NO_ANSWER", {}, True),
        ("an automated call after the time", after, rpc, {"channel": "AUTOMATED_CALL"}, True),
        ("a logged call after the time", after, rpc, {"source": "LOGGED"}, True),
        ("the borrower calling in after asking", asked + timedelta(hours=1), rpc, inbound, True),
    ]
    pending = set()
    for n, (name, at, outcome, more, answers) in enumerate(later):
        made = await desk.case(name, 10 + n)
        await desk.contact(made, asked, "CALLBACK_REQUESTED", callback_at=due)
        await desk.contact(made, at, outcome, **more)
        if not answers:
            pending.add(made.case.reference)
    page = await worklist(wgql, desk.collector.login)
    callback = f"CALLBACK_REQUESTED {instant(due)}"
    waiting = {
        e["node"]["case"]["reference"] for e in page["edges"] if callback in e["node"]["reasons"]
    }
    assert waiting == pending
    assert len(page["edges"]) == len(later)


async def test_equal_days_past_due_go_by_outstanding_then_id(wgql: Gql, desk: Desk) -> None:
    small = await desk.case("small", 30, debts=1)
    big = await desk.case("big", 30, debts=2)
    twin = await desk.case("twin of small", 30, debts=1)
    page = await worklist(wgql, desk.collector.login)
    assert references(page) == [m.case.reference for m in (big, small, twin)]


async def test_calling_now_counts_every_case_and_agency_and_keeps_the_quiet_hours(
    wgql: Gql, clock: MovableClock, desk: Desk
) -> None:
    free = await desk.case("free", 50)
    await desk.phone(free, zone="Asia/Shanghai")
    busy = await desk.case("three connected calls today", 40)
    await desk.phone(busy, zone="Asia/Shanghai")
    # Another case of the same borrower, placed with an agency: its calls count too.
    other = await desk.factory.case(
        borrower=busy.borrower, portfolio="us-cards", agency="Acme Recovery"
    )
    await desk.contact(busy, NOW - timedelta(minutes=90), "RIGHT_PARTY_CONTACT")
    await desk.contact(busy, NOW - timedelta(minutes=60), "PROMISE_TO_PAY")
    # Made by the agency (its id on the contact, as an agency agent's calls are recorded).
    assert other.case.agency_id is not None
    await desk.contact(
        other, NOW - timedelta(minutes=30), "RIGHT_PARTY_CONTACT", agency_id=other.case.agency_id
    )
    two = await desk.case("two connected calls today", 30)
    await desk.phone(two, zone="Asia/Shanghai")
    await desk.contact(two, NOW - timedelta(minutes=90), "RIGHT_PARTY_CONTACT")
    await desk.contact(two, NOW - timedelta(minutes=60), "RIGHT_PARTY_CONTACT")
    await desk.contact(two, NOW - timedelta(days=1), "RIGHT_PARTY_CONTACT")  # yesterday
    invalid = await desk.case("invalid number only", 20)
    await desk.phone(invalid, status="INVALID")

    page = await worklist(wgql, desk.collector.login)
    nodes = {e["node"]["case"]["reference"]: e["node"] for e in page["edges"]}
    allowed = {
        free.case.reference: (True, shown(NOW)),
        # The CN profile's 3 connected calls a day: the next local day, after the quiet hours.
        busy.case.reference: (False, shown(NEXT_MORNING)),
        two.case.reference: (True, shown(NOW)),
        invalid.case.reference: (False, None),
    }
    assert {
        ref: (node["contactAllowedNow"], node["nextContactAt"]) for ref, node in nodes.items()
    } == allowed

    clock.at = datetime.combine(DAY, time(22, 0), SHANGHAI).astimezone(UTC)
    page = await worklist(wgql, desk.collector.login)
    node = next(e["node"] for e in page["edges"] if e["node"]["case"]["id"] == free.gid)
    assert (node["contactAllowedNow"], node["nextContactAt"]) == (False, shown(NEXT_MORNING))
    clock.at = datetime.combine(DAY, time(21, 59, 59), SHANGHAI).astimezone(UTC)
    page = await worklist(wgql, desk.collector.login)
    node = next(e["node"] for e in page["edges"] if e["node"]["case"]["id"] == free.gid)
    assert (node["contactAllowedNow"], node["nextContactAt"]) == (True, shown(clock.at))


async def test_an_opt_out_on_another_owner_s_copy_of_the_number_holds_as_in_contact_allowance(
    wgql: Gql, desk: Desk
) -> None:
    shared = await desk.case("the spouse opted out of the borrower's number", 30)
    await desk.phone(shared, zone="Asia/Shanghai")
    # The same number (written another way) on the record as the spouse's, opted out.
    await desk.insert(
        tables.contact_points,
        borrower_id=shared.borrower.id,
        kind="PHONE",
        value=f"139-0000-{desk.tag[:4]}",
        owner="SPOUSE",
        status="OPTED_OUT",
        time_zone="Asia/Shanghai",
        created_at=NOW - timedelta(days=20),
        version=1,
    )
    own = await desk.case("the borrower's own number only", 20)
    await desk.phone(own, zone="Asia/Shanghai")

    page = await worklist(wgql, desk.collector.login)
    nodes = {e["node"]["case"]["id"]: e["node"] for e in page["edges"]}
    answers = {}
    for made in (shared, own):
        variables = {"case": made.gid, "channel": "PHONE"}
        allowance = (await wgql(desk.collector.login, ALLOWANCE, variables))["r"]
        node = nodes[made.gid]
        assert (node["contactAllowedNow"], node["nextContactAt"]) == (
            allowance["allowed"],
            allowance["nextAllowedAt"],
        )
        answers[made.gid] = allowance["allowed"]
    assert answers == {shared.gid: False, own.gid: True}
    assert nodes[shared.gid]["nextContactAt"] is None  # waiting will not lift an opt-out


async def test_a_team_lead_works_their_own_cases_not_the_team_s(wgql: Gql, desk: Desk) -> None:
    team = f"Work-{desk.tag}"
    lead = await desk.factory.staff(f"lead.{desk.tag}", team=team, roles=("team_lead",))
    own = await desk.case("the lead's", 10, assignee=lead.login)
    await desk.case("a team member's", 20)
    assert references(await worklist(wgql, lead.login)) == [own.case.reference]


async def test_an_agency_works_its_current_placements_only(wgql: Gql, desk: Desk) -> None:
    agency = await desk.factory.agency()
    agent = await desk.factory.staff(
        f"agent.{desk.tag}", roles=("agency_agent",), agency=agency.name
    )
    manager = await desk.factory.staff(
        f"agmgr.{desk.tag}", roles=("agency_manager",), agency=agency.name
    )
    current = await desk.case("placed", 40, assignee=None, agency=agency.name)
    await desk.promise(current, DAY, "OPEN")
    last_day = await desk.case(
        "placed, ends today", 30, assignee=None, agency=agency.name, placement_ends_on=DAY
    )
    await desk.case(
        "lapsed yesterday",
        50,
        assignee=None,
        agency=agency.name,
        placement_ends_on=DAY - timedelta(days=1),
    )
    await desk.case("another agency's", 60, assignee=None, agency="Acme Recovery")
    await desk.case("closed", 70, assignee=None, agency=agency.name, status="CLOSED")
    for login in (agent.login, manager.login):
        page = await worklist(wgql, login)
        assert references(page) == [current.case.reference, last_day.case.reference]
        assert page["edges"][0]["node"]["reasons"][0] == f"PROMISE_DUE_TODAY {DAY.isoformat()}"
    # Acme's agent does not see them, and the collector's worklist holds none of them.
    acme = references(await worklist(wgql, "acme.agent1", first=100))
    assert current.case.reference not in acme
    assert references(await worklist(wgql, desk.collector.login)) == []


async def test_pages_follow_one_another_without_gaps_or_repeats(wgql: Gql, desk: Desk) -> None:
    made = [await desk.case(f"c{n}", dpd) for n, dpd in enumerate((5, 9, 9, 2, 40, 7, 9))]
    due = await desk.case("due", 1)
    await desk.promise(due, DAY, "OPEN")
    first_page = await worklist(wgql, desk.collector.login)
    full = references(first_page)
    assert len(full) == len(made) + 1 and full[0] == due.case.reference
    # Cursors carry the rank the page's SQL computed: the promise due today's group, then OTHER.
    assert [cursor_value(e["cursor"])[0] for e in first_page["edges"][:2]] == [2, 4]
    seen: list[str] = []
    after = None
    while True:
        page = await worklist(wgql, desk.collector.login, first=3, after=after)
        seen += references(page)
        assert page["totalCount"] == len(full)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == full


async def test_cursors_hold_no_personal_data_and_bad_ones_are_refused(
    wgql: Gql, desk: Desk
) -> None:
    await desk.case("one", 5)
    await desk.case("two", 6)
    page = await worklist(wgql, desk.collector.login, first=1)
    cursor = page["pageInfo"]["endCursor"]
    decoded = decoded_cursor(cursor)
    assert set(decoded) == {"l", "i", "v"}
    assert decoded["v"] == [4, 6, "20970.50"]
    bad_cursors = [
        "nonsense",
        page["edges"][0]["cursor"][:-2],
        *(
            base64.urlsafe_b64encode(json.dumps(raw).encode()).decode()
            for raw in (
                {"l": "worklist", "i": 1, "v": [9, 1, "1.00"]},  # no such rank
                {"l": "worklist", "i": 1, "v": [True, 1, "1.00"]},
                {"l": "worklist", "i": 1, "v": [1, 2**31, "1.00"]},  # past INTEGER
                {"l": "worklist", "i": 1, "v": [1, 5, "1e30"]},  # past NUMERIC(18, 2)
                {"l": "worklist", "i": 1, "v": [1, 5, "NaN"]},
                {"l": "worklist", "i": 1, "v": [1, 5, "1.001"]},
                {"l": "worklist", "i": 2**31, "v": [1, 5, "1.00"]},
                {"l": "timeline", "i": 1, "v": ["2026-01-01T00:00:00Z", 1]},
            )
        ),
    ]
    for bad in bad_cursors:
        errors = await wgql.errors(desk.collector.login, WORKLIST, {"first": 1, "after": bad})
        assert_bad_input(errors, "after")


@pytest.mark.parametrize("login", ["admin", "manager", "auditor1", "legal1"])
async def test_roles_without_a_worklist_are_forbidden(wgql: Gql, login: str) -> None:
    assert_forbidden(await wgql.errors(login, WORKLIST, {"first": 5}))


async def test_statements_do_not_grow_with_the_page_size(
    wgql: Gql, desk: Desk, sql_counter: StatementCounter
) -> None:
    for n in range(12):
        made = await desk.case(f"c{n}", 10 + n)
        await desk.phone(made, zone="Asia/Shanghai")
        await desk.contact(made, NOW - timedelta(hours=1), "NO_ANSWER")
        if n % 3 == 0:
            await desk.promise(made, DAY, "OPEN")
    await worklist(wgql, desk.collector.login, first=1)  # warm up
    counts = {}
    for first in (2, 10):
        sql_counter.reset()
        page = await worklist(wgql, desk.collector.login, first=first)
        assert len(page["edges"]) == first
        counts[first] = sql_counter.count
    assert counts[2] == counts[10], counts
