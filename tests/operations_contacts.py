"""Access-matrix declarations of contact work (tests/operations.py joins them to OPERATIONS):
contactAllowance, startContact, completeContact, logContact, addContactPoint,
updateContactPoint, and node(id:) of a ContactPoint and a Contact. Borrower.contactPoints and
Case.contacts are fields of types read wherever the borrower or case is
(tests/e2e/test_contact_points.py and tests/e2e/test_contacts.py cover them).

Every role reads allowances of the cases it sees; a case outside is refused as BAD_USER_INPUT
("no such case"), exactly as one that does not exist. Contacts are made by those who work cases
(``contact:make``), logged by them and the integration account (``contact:log``); contact points
are managed by those who work cases and the integration account, legal excepted
(``contact_point:manage``); what loosens a point's protection (lifting an opt-out, consent)
also needs ``contact_point:consent``, decided inside updateContactPoint and addContactPoint
(tests/e2e/test_contact_points.py). completeContact's contact is the caller's own (others'
contacts: tests/e2e/test_contacts.py). Outside the caller's scope every mutation answers
NOT_FOUND.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select

from store import tables
from tests.e2e.contacts_support import midday_zone
from tests.factories import MadeCase, global_id, writing
from tests.matrix import (
    CASE_TARGETS,
    EVERY_ROLE,
    Cell,
    Failed,
    Forbidden,
    Null,
    Operation,
    Refused,
    Target,
    roles_holding,
)

ct, cp = tables.contacts.c, tables.contact_points.c
PAYLOAD = "__typename ... on UserError { code field }"


@dataclass
class ContactTarget(Target):
    """A case with a contact point (``point``) and, where needed, a contact (``contact``)."""

    point: int | None = None
    contact: int | None = None
    value: str = ""


def _number() -> str:
    return "139" + "".join(random.choices("0123456789", k=8))


async def _point(cell: Cell, made: MadeCase, zone: str | None) -> tuple[int, str]:
    value = _number()
    async with writing(cell.engine) as conn:
        inserted = await conn.execute(
            insert(tables.contact_points).values(
                borrower_id=made.borrower.id,
                kind="PHONE",
                value=value,
                owner="BORROWER",
                status="VERIFIED",
                time_zone=zone,
                created_at=datetime.now(UTC),
                version=1,
            )
        )
        assert inserted.inserted_primary_key is not None
        return int(inserted.inserted_primary_key[0]), value


async def _started(cell: Cell, made: MadeCase, point: int) -> int:
    """A contact in progress (as startContact leaves it) on the case, started by the caller
    (only its own agent, a team lead or a manager records its outcome)."""
    async with writing(cell.engine) as conn:
        inserted = await conn.execute(
            insert(tables.contacts).values(
                case_id=made.case.id,
                borrower_id=made.borrower.id,
                staff_id=cell.world.staff[cell.login].id,
                contact_point_id=point,
                at=datetime.now(UTC),
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
        return int(inserted.inserted_primary_key[0])


async def case_in_reach(cell: Cell, *, contact: bool = False) -> Target:
    """A new open case within the caller's reach, its borrower and phone in a zone where it is
    midday now (so that a contact now passes every rule), with a contact in progress if asked."""
    factory, role = cell.world.factory, cell.role
    zone = midday_zone()
    borrower = await factory.borrower(time_zone=zone)
    if role.agency:
        made = await factory.case(borrower=borrower, agency=role.agency)
    elif role.cases == "legal":
        made = await factory.case(borrower=borrower, stage="LEGAL", classification="SEVERE")
    elif role.cases in ("own", "team"):
        made = await factory.case(borrower=borrower, assignee="collector1")
    else:
        made = await factory.case(borrower=borrower)
    point, value = await _point(cell, made, zone)
    started = await _started(cell, made, point) if contact else None
    return ContactTarget(case=made, point=point, contact=started, value=value)


async def fresh_contact(cell: Cell) -> Target:
    return await case_in_reach(cell, contact=True)


def on_world_case(*, contact: bool) -> Any:
    """A point (and a contact in progress) on the world case the cell aims at."""

    async def aim(cell: Cell) -> Target:
        name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
        assert name is not None
        made = cell.world.cases[name]
        point, value = await _point(cell, made, "Asia/Shanghai")
        started = await _started(cell, made, point) if contact else None
        return ContactTarget(case=made, point=point, contact=started, value=value)

    return aim


def _target(target: Target) -> ContactTarget:
    assert isinstance(target, ContactTarget)
    return target


async def contacts_of(cell: Cell) -> list[Any]:
    """The target case's contacts (what a refusal leaves alone)."""
    async with cell.engine.connect() as conn:
        stmt = select(tables.contacts).where(ct.case_id == cell.target.made.case.id)
        return [tuple(r) for r in (await conn.execute(stmt.order_by(ct.id))).all()]


async def points_of(cell: Cell) -> list[Any]:
    async with cell.engine.connect() as conn:
        stmt = select(tables.contact_points).where(cp.borrower_id == cell.target.made.borrower.id)
        return [tuple(r) for r in (await conn.execute(stmt.order_by(cp.id))).all()]


# ---- contactAllowance ---------------------------------------------------------------------------

ALLOWANCE = """
query($id: ID!) {
  r: contactAllowance(caseId: $id, channel: PHONE, at: "2026-05-01T04:00:00Z") {
    allowed nextAllowedAt attemptsLeftToday profile contactPoint { id }
    checks { rule passed }
  }
}
"""
CN_RULES = (
    "CONTACT_POINT_INVALID",
    "OPTED_OUT",
    "THIRD_PARTY",
    "FIELD_VISIT_TWO_STAFF",
    "QUIET_HOURS",
    "DAILY_ATTEMPTS",
    "CONNECTED_CALLS_PER_DAY",
)


async def check_allowance(op: Operation, cell: Cell) -> None:
    """The world's borrowers have no contact point: noon in Shanghai passes everything but
    CONTACT_POINT_INVALID, which waiting does not lift."""
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "allowed": False,
        "nextAllowedAt": None,
        "attemptsLeftToday": None,
        "profile": "CN",
        "contactPoint": None,
        "checks": [{"rule": r, "passed": r != "CONTACT_POINT_INVALID"} for r in CN_RULES],
    }
    entries = await cell.entries(request_id)
    assert [(x.action, x.case_ids) for x in entries] == [("case.read", [cell.target.made.case.id])]


# ---- startContact, completeContact, logContact ----------------------------------------------

CONTACT = "contact { channel direction outcome blocked breaches agent { login } }"
START = f"""
mutation($input: StartContactInput!) {{
  r: startContact(input: $input) {{ {PAYLOAD} ... on StartContactSuccess {{ {CONTACT} }} }}
}}
"""
COMPLETE = f"""
mutation($input: CompleteContactInput!) {{
  r: completeContact(input: $input) {{ {PAYLOAD} ... on CompleteContactSuccess {{ {CONTACT} }} }}
}}
"""
LOG = f"""
mutation($input: LogContactInput!) {{
  r: logContact(input: $input) {{ {PAYLOAD} ... on LogContactSuccess {{ {CONTACT} }} }}
}}
"""


def contact_check(action: str, success: str, **expected: Any) -> Any:
    """The change inside scope: the contact as expected, made by the caller, one audit entry."""

    async def check(op: Operation, cell: Cell) -> None:
        result, request_id = await cell.result(op.document, op.variables(cell.target))
        assert result == {
            "__typename": success,
            "contact": {
                "channel": "PHONE",
                "blocked": False,
                "breaches": [],
                "agent": {"login": cell.login},
                **expected,
            },
        }
        entries = await cell.entries(request_id)
        assert [(x.action, x.outcome, x.case_ids) for x in entries] == [
            (action, "ALLOWED", [cell.target.made.case.id])
        ]

    return check


def start_variables(target: Target) -> dict[str, Any]:
    return {"input": {"caseId": target.made.gid, "channel": "PHONE"}}


def complete_variables(target: Target) -> dict[str, Any]:
    contact = _target(target).contact
    assert contact is not None
    return {"input": {"contactId": global_id("Contact", contact), "outcome": "NO_ANSWER"}}


def log_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "caseId": target.made.gid,
            "channel": "PHONE",
            "direction": "INBOUND",
            "outcome": "RIGHT_PARTY_CONTACT",
        }
    }


async def contact_state(cell: Cell) -> Any:
    contact = _target(cell.target).contact
    async with cell.engine.connect() as conn:
        stmt = select(tables.contacts).where(ct.id == contact)
        return tuple((await conn.execute(stmt)).one())


# ---- addContactPoint, updateContactPoint --------------------------------------------------------

ADD = f"""
mutation($input: AddContactPointInput!) {{
  r: addContactPoint(input: $input) {{
    {PAYLOAD} ... on AddContactPointSuccess {{ contactPoint {{ kind value owner status }} }}
  }}
}}
"""
UPDATE = f"""
mutation($input: UpdateContactPointInput!) {{
  r: updateContactPoint(input: $input) {{
    {PAYLOAD} ... on UpdateContactPointSuccess {{ contactPoint {{ status version }} }}
  }}
}}
"""


def add_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": global_id("Borrower", target.made.borrower.id),
            "kind": "PHONE",
            "value": _number(),
        }
    }


async def check_add(op: Operation, cell: Cell) -> None:
    variables = op.variables(cell.target)
    value = variables["input"]["value"]
    before = len(await points_of(cell))
    result, request_id = await cell.result(op.document, variables)
    assert result == {
        "__typename": "AddContactPointSuccess",
        "contactPoint": {
            "kind": "PHONE",
            "value": f"{value[:3]}****{value[-4:]}",  # no role that manages points sees it clear
            "owner": "BORROWER",
            "status": "UNVERIFIED",
        },
    }
    assert len(await points_of(cell)) == before + 1
    entries = await cell.entries(request_id)
    borrower = cell.target.made.borrower.id
    assert [(x.action, x.outcome, x.borrower_ids) for x in entries] == [
        ("contact_point.add", "ALLOWED", [borrower]),
        ("case.read", "ALLOWED", [borrower]),
    ]
    assert value not in str(entries[0]._mapping)


def update_variables(target: Target) -> dict[str, Any]:
    point = _target(target).point
    assert point is not None
    return {"input": {"contactPointId": global_id("ContactPoint", point), "status": "INVALID"}}


async def check_update(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "UpdateContactPointSuccess",
        "contactPoint": {"status": "INVALID", "version": 2},
    }
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.changes) for x in entries] == [
        (
            "contact_point.update",
            "ALLOWED",
            {"status": {"before": "VERIFIED", "after": "INVALID"}},
        )
    ]


# ---- node(id:) of a ContactPoint and a Contact ---------------------------------------------

NODE = """
query($id: ID!) {
  r: node(id: $id) {
    __typename id
    ... on ContactPoint { kind status }
    ... on Contact { channel outcome blocked }
  }
}
"""


def node_variables(kind: str) -> Any:
    def variables(target: Target) -> dict[str, Any]:
        t = _target(target)
        pk = t.point if kind == "ContactPoint" else t.contact
        assert pk is not None
        return {"id": global_id(kind, pk)}

    return variables


def node_check(kind: str) -> Any:
    async def check(op: Operation, cell: Cell) -> None:
        variables = op.variables(cell.target)
        result, _ = await cell.result(op.document, variables)
        fields = (
            {"kind": "PHONE", "status": "VERIFIED"}
            if kind == "ContactPoint"
            else {"channel": "PHONE", "outcome": None, "blocked": False}
        )
        assert result == {"__typename": kind, "id": variables["id"], **fields}

    return check


def node_of(kind: str) -> Operation:
    return Operation(
        name=f"node{kind}",
        field="node",
        document=NODE,
        variables=node_variables(kind),
        allowed=EVERY_ROLE,
        denied=None,
        check=node_check(kind),
        scope="case",
        outside=Null(),
        aim=on_world_case(contact=True),
    )


async def count_contacts(cell: Cell) -> int:
    async with cell.engine.connect() as conn:
        stmt = select(func.count()).where(ct.case_id == cell.target.made.case.id)
        return int((await conn.execute(stmt)).scalar_one())


# ---- The declarations ---------------------------------------------------------------------------

CONTACT_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="contactAllowance",
        field="contactAllowance",
        document=ALLOWANCE,
        variables=lambda target: {"id": target.made.gid},
        allowed=EVERY_ROLE,
        denied=None,
        check=check_allowance,
        scope="case",
        outside=Failed("BAD_USER_INPUT"),
    ),
    Operation(
        name="startContact",
        field="startContact",
        document=START,
        variables=start_variables,
        allowed=roles_holding("contact:make"),
        permission="contact:make",
        denied=Forbidden("contact:make"),
        check=contact_check(
            "contact.start", "StartContactSuccess", direction="OUTBOUND", outcome=None
        ),
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "contact.start"),
        fresh=case_in_reach,
        snapshot=contacts_of,
    ),
    Operation(
        name="completeContact",
        field="completeContact",
        document=COMPLETE,
        variables=complete_variables,
        allowed=roles_holding("contact:make"),
        permission="contact:make",
        denied=Forbidden("contact:make"),
        check=contact_check(
            "contact.complete", "CompleteContactSuccess", direction="OUTBOUND", outcome="NO_ANSWER"
        ),
        scope="case",
        outside=Refused("NotFoundError", "CONTACT_NOT_FOUND", "contactId", "contact.complete"),
        fresh=fresh_contact,
        aim=on_world_case(contact=True),
        snapshot=contact_state,
    ),
    Operation(
        name="logContact",
        field="logContact",
        document=LOG,
        variables=log_variables,
        allowed=roles_holding("contact:log"),
        permission="contact:log",
        denied=Forbidden("contact:log"),
        check=contact_check(
            "contact.log", "LogContactSuccess", direction="INBOUND", outcome="RIGHT_PARTY_CONTACT"
        ),
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "contact.log"),
        fresh=case_in_reach,
        snapshot=count_contacts,
    ),
    Operation(
        name="addContactPoint",
        field="addContactPoint",
        document=ADD,
        variables=add_variables,
        allowed=roles_holding("contact_point:manage"),
        permission="contact_point:manage",
        denied=Forbidden("contact_point:manage"),
        check=check_add,
        scope="case",
        outside=Refused("NotFoundError", "BORROWER_NOT_FOUND", "borrowerId", "contact_point.add"),
        fresh=case_in_reach,
        aim=on_world_case(contact=False),
        snapshot=points_of,
    ),
    Operation(
        name="updateContactPoint",
        field="updateContactPoint",
        document=UPDATE,
        variables=update_variables,
        allowed=roles_holding("contact_point:manage"),
        permission="contact_point:manage",
        denied=Forbidden("contact_point:manage"),
        check=check_update,
        scope="case",
        outside=Refused(
            "NotFoundError", "CONTACT_POINT_NOT_FOUND", "contactPointId", "contact_point.update"
        ),
        fresh=case_in_reach,
        aim=on_world_case(contact=False),
        snapshot=points_of,
    ),
    node_of("ContactPoint"),
    node_of("Contact"),
)
