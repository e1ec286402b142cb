"""One declaration per GraphQL root operation: the access matrix (tests/e2e/test_access_matrix.py)
calls each of them as every role login, on an object inside and one outside the login's scope.

A declaration (``tests.matrix.Operation``) names the root field, a minimal document (the field
aliased ``r``), a variables builder, the roles allowed (and the permission they stand for), what
a caller whose roles are not allowed gets (``Forbidden`` or a typed ``Refused``), what an allowed
caller gets outside their scope (``Null``, ``Empty`` or ``Refused``), the confidential fields it
returns (``masked`` unless the caller sees them in clear), and a check of what an allowed caller
gets inside it: values computed here from the documented rules (scopes, masks, the change made,
its event and audit entry). An operation whose allowed call changes state
declares ``fresh`` (a new object per cell) and ``snapshot`` (the state a refusal leaves alone).

The matrix's guard fails for a root field of Query or Mutation that nothing here declares: a new
operation joins the matrix by adding its declaration to ``OPERATIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from store import tables
from tests.access import clear, in_legal_proceedings, masks
from tests.factories import global_id
from tests.matrix import (
    EVERY_ROLE,
    STAFF_TARGETS,
    Cell,
    Check,
    Empty,
    Forbidden,
    MakeTarget,
    Null,
    Operation,
    Refused,
    Target,
)
from tests.operations_changes import CHANGE_OPERATIONS
from tests.operations_clients import CLIENT_OPERATIONS
from tests.operations_contacts import CONTACT_OPERATIONS
from tests.operations_decisions import DECISION_OPERATIONS
from tests.operations_evidence import EVIDENCE_OPERATIONS
from tests.operations_legal import LEGAL_OPERATIONS
from tests.operations_notices import NOTICE_OPERATIONS
from tests.operations_payments import PAYMENT_OPERATIONS
from tests.operations_protections import PROTECTION_OPERATIONS
from tests.operations_reports import REPORT_OPERATIONS
from tests.operations_restructuring import RESTRUCTURING_OPERATIONS
from tests.operations_retention import RETENTION_OPERATIONS
from tests.operations_strategies import STRATEGY_OPERATIONS
from tests.operations_tasks import TASK_OPERATIONS
from tests.operations_warnings import WARNING_OPERATIONS
from tests.operations_work import WORK_OPERATIONS
from tests.operations_writeoff import WRITE_OFF_OPERATIONS

c, s, a = tables.cases.c, tables.staff.c, tables.agencies.c

ASSIGN_TO = "collector2"  # team East: within reach of every role that may assign
PAYLOAD = "__typename ... on UserError { code field }"

# ---- Reads --------------------------------------------------------------------------------------

VIEWER = "{ r: viewer { login roles team permissions agency { name } } }"


async def check_viewer(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, {})
    role = cell.role
    assert result == {
        "login": cell.login,
        "roles": list(role.roles),
        "team": role.team,
        "permissions": sorted(role.permissions),
        "agency": {"name": role.agency} if role.agency else None,
    }


async def shown_borrower(cell: Cell, borrower: Any) -> dict[str, str]:
    """The borrower's confidential fields as the cell's login must see them: in clear only for
    legal while the borrower is in legal proceedings, masked for everyone else."""
    async with cell.engine.connect() as conn:
        legal = await in_legal_proceedings(conn, borrower.id)
    if cell.role.clear_in_legal_proceedings and legal:
        return clear(borrower)
    return masks(borrower)


CASE = """
query($id: ID!) {
  r: case(id: $id) {
    id reference stage classification bucket daysPastDue debts { daysPastDue }
    borrower { nationalId phone email address employer }
    assignee { login } agency { name }
  }
}
"""


async def check_case(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    result, _ = await cell.result(op.document, op.variables(cell.target))
    async with cell.engine.connect() as conn:
        row = (await conn.execute(select(tables.cases).where(c.id == made.case.id))).one()
        by_id = select(s.login, a.name).outerjoin(tables.agencies, a.id == s.agency_id)
        staff = (await conn.execute(by_id.where(s.id == row.assignee_id))).one_or_none()
        agency = (await conn.execute(select(a.name).where(a.id == row.agency_id))).scalar()
    role = cell.role
    shown = await shown_borrower(cell, made.borrower)
    # Agency users see only their own agency and its staff.
    assignee = None
    if staff is not None and (role.internal or staff.name == role.agency):
        assignee = {"login": staff.login}
    assert result == {
        "id": made.gid,
        "reference": row.reference,
        "stage": row.stage,
        "classification": row.classification,
        "bucket": row.bucket,
        # The factories' schedules give every debt the case's DPD, as the domain computes it.
        "daysPastDue": row.days_past_due,
        "debts": [{"daysPastDue": row.days_past_due}] * len(made.debts),
        "borrower": {name: shown[name] for name in op.masked},
        "assignee": assignee,
        "agency": {"name": agency} if agency and (role.internal or agency == role.agency) else None,
    }


CASES = """
query($search: String) {
  r: cases(first: 5, filter: {search: $search}) { totalCount edges { node { reference } } }
}
"""
BY_NATIONAL_ID = """
query($value: String) {
  r: cases(first: 5, filter: {borrowerNationalId: $value}) {
    totalCount edges { node { reference } }
  }
}
"""


async def check_cases(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    result, _ = await cell.result(op.document, op.variables(cell.target))
    assert result == {"totalCount": 1, "edges": [{"node": {"reference": made.case.reference}}]}
    # A filter on a field the caller sees masked is refused without echoing the value; legal
    # filters on what it sees in clear.
    value = made.borrower.national_id
    body, _ = await cell.send(BY_NATIONAL_ID, {"value": value})
    if cell.role.clear_in_legal_proceedings:
        assert body == {"data": {"r": result}}, body
    else:
        assert body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["MASKED_FIELD"], body
        assert value not in str(body)


NODE = """
query($id: ID!) {
  r: node(id: $id) {
    __typename id
    ... on Case { reference }
    ... on Borrower { phone nationalId }
    ... on Debt { accountNumber }
    ... on Staff { login }
    ... on Agency { name }
  }
}
"""
NODE_TYPES = ("Case", "Borrower", "Debt", "Staff", "Agency")


def node_row(type_name: str, target: Target) -> Any:
    if type_name == "Staff":
        return target.staff
    if type_name == "Agency":
        return target.agency
    made = target.made
    return {"Case": made.case, "Borrower": made.borrower, "Debt": made.debts[0]}[type_name]


def node_check(type_name: str) -> Check:
    async def check(op: Operation, cell: Cell) -> None:
        row = node_row(type_name, cell.target)
        gid = global_id(type_name, row.id)
        result, _ = await cell.result(op.document, {"id": gid})
        fields: dict[str, Any]
        if type_name == "Case":
            fields = {"reference": row.reference}
        elif type_name == "Borrower":
            # The same rule as through a case: clear for legal while in legal proceedings.
            shown = await shown_borrower(cell, row)
            fields = {name: shown[name] for name in op.masked}
        elif type_name == "Debt":
            fields = {"accountNumber": row.account_number}
        elif type_name == "Staff":
            fields = {"login": row.login}
        else:
            fields = {"name": row.name}
        assert result == {"__typename": type_name, "id": gid, **fields}

    return check


def node(type_name: str) -> Operation:
    return Operation(
        name=f"node{type_name}",
        field="node",
        document=NODE,
        variables=lambda target: {"id": global_id(type_name, node_row(type_name, target).id)},
        allowed=EVERY_ROLE,
        denied=None,
        check=node_check(type_name),
        scope="case" if type_name in ("Case", "Borrower", "Debt") else "staff",
        outside=Null(),
        masked=("phone", "nationalId") if type_name == "Borrower" else (),
    )


AUDIT_TRAIL = """
query($login: String) {
  r: auditTrail(first: 5, filter: {actorLogin: $login}) {
    totalCount edges { node { actorLogin action outcome requestId } }
  }
}
"""


async def fresh_actor(cell: Cell) -> Target:
    """A new staff member who has made exactly one request (a plain read)."""
    staff = await cell.world.factory.staff(team="West")
    body, request_id = await cell.send(VIEWER, {}, login=staff.login)
    assert body["data"]["r"]["login"] == staff.login
    return Target(staff=staff, request_id=request_id)


async def check_audit_trail(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, op.variables(cell.target))
    node = {
        "actorLogin": cell.target.staff.login,
        "action": "api.read",
        "outcome": "ALLOWED",
        "requestId": cell.target.request_id,
    }
    assert result == {"totalCount": 1, "edges": [{"node": node}]}


ACCESS_HISTORY = """
query($id: ID!) {
  r: accessHistory(borrowerId: $id, first: 5) {
    totalCount edges { node { actorLogin action requestId fields { name clear } } }
  }
}
"""
BORROWER_PHONE = "query($id: ID!) { r: case(id: $id) { borrower { phone } } }"


async def fresh_read_borrower(cell: Cell) -> Target:
    """A new borrower whose phone collector1 has read once (masked), through their case."""
    made = await cell.world.factory.case(assignee="collector1")
    body, request_id = await cell.send(BORROWER_PHONE, {"id": made.gid}, login="collector1")
    assert body["data"]["r"]["borrower"]["phone"] == masks(made.borrower)["phone"]
    return Target(case=made, request_id=request_id)


async def check_access_history(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, op.variables(cell.target))
    node = {
        "actorLogin": "collector1",
        "action": "case.read",
        "requestId": cell.target.request_id,
        "fields": [{"name": "phone", "clear": False}],
    }
    assert result == {"totalCount": 1, "edges": [{"node": node}]}


# ---- Case mutations -----------------------------------------------------------------------------


def case_mutation(field_name: str, input_type: str) -> str:
    success = field_name[0].upper() + field_name[1:] + "Success"
    changed = "case { id version assignee { login } agency { name } }"
    return f"""
mutation($input: {input_type}!) {{
  r: {field_name}(input: $input) {{ {PAYLOAD} ... on {success} {{ {changed} }} }}
}}
"""


def case_input(**extra: Any) -> Callable[[Target], dict[str, Any]]:
    def variables(target: Target) -> dict[str, Any]:
        return {"input": {"caseId": target.made.gid, **extra}}

    return variables


async def case_state(cell: Cell) -> tuple[Any, list[str]]:
    """The target case's row and the names of its events."""
    made, ev = cell.target.made, tables.case_events.c
    async with cell.engine.connect() as conn:
        row = (await conn.execute(select(tables.cases).where(c.id == made.case.id))).one()
        stmt = select(ev.name).where(ev.case_id == made.case.id).order_by(ev.id)
        events = list((await conn.execute(stmt)).scalars())
    return row, events


def case_change(action: str, event: str, expect: Callable[[Any], dict[str, Any]]) -> Check:
    """An allowed change inside scope: a stale expectedVersion is refused with CONFLICT and
    changes nothing; the change then succeeds, bumps the version, records ``event`` and one
    ALLOWED ``action`` audit entry."""

    async def check(op: Operation, cell: Cell) -> None:
        before = await case_state(cell)
        stale = op.variables(cell.target)
        stale["input"]["expectedVersion"] = before[0].version + 998
        result, request_id = await cell.result(op.document, stale)
        assert result == {
            "__typename": "ConflictError",
            "code": "CONFLICT",
            "field": "expectedVersion",
        }
        assert await case_state(cell) == before
        assert [(x.action, x.outcome, x.changes) for x in await cell.entries(request_id)] == [
            (action, "DENIED", {"refused": "CONFLICT"})
        ]

        result, request_id = await cell.result(op.document, op.variables(cell.target))
        after, events = await case_state(cell)
        assert result == {
            "__typename": op.field[0].upper() + op.field[1:] + "Success",
            "case": {"id": cell.target.made.gid, "version": before[0].version + 1, **expect(after)},
        }
        assert after.version == before[0].version + 1
        assert events == [event]
        entries = await cell.entries(request_id)
        assert [(x.action, x.outcome) for x in entries] == [(action, "ALLOWED")]

    return check


def assigned(after: Any) -> dict[str, Any]:
    return {"assignee": {"login": ASSIGN_TO}, "agency": None}


def placed(after: Any) -> dict[str, Any]:
    assert (after.assignee_id, after.placed_at is not None) == (None, True)
    return {"assignee": None, "agency": {"name": "Acme Recovery"}}


def recalled(after: Any) -> dict[str, Any]:
    assert (after.assignee_id, after.agency_id, after.placement_ends_on) == (None, None, None)
    return {"assignee": None, "agency": None}


def held(after: Any) -> dict[str, Any]:
    assert after.status == "ON_HOLD"
    return {"assignee": None, "agency": None}


def resumed(after: Any) -> dict[str, Any]:
    assert after.status == "OPEN"
    return {"assignee": None, "agency": None}


async def held_case(cell: Cell) -> Target:
    return Target(case=await cell.world.factory.case(status="ON_HOLD"))


async def case_to_assign(cell: Cell) -> Target:
    """An open case within the caller's reach: the pool's, or (a team lead's) a team member's."""
    assignee = "collector1" if cell.role.cases == "team" else None
    return Target(case=await cell.world.factory.case(assignee=assignee))


async def unplaced_case(cell: Cell) -> Target:
    return Target(case=await cell.world.factory.case())


async def placed_case(cell: Cell) -> Target:
    return Target(case=await cell.world.factory.case(agency="Acme Recovery"))


# ---- Reveal -------------------------------------------------------------------------------------

REVEAL = f"""
mutation($input: RevealConfidentialInput!) {{
  r: revealConfidential(input: $input) {{
    {PAYLOAD} ... on RevealConfidentialSuccess {{ revealed value }}
  }}
}}
"""


def reveal_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": global_id("Borrower", target.made.borrower.id),
            "field": "PHONE",
            "reasonCode": "CONTACT_BORROWER",
            "reasonText": "authorisation matrix",
        }
    }


async def check_reveal(op: Operation, cell: Cell) -> None:
    borrower = cell.target.made.borrower
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "RevealConfidentialSuccess",
        "revealed": "PHONE",
        "value": borrower.phone,
    }
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.fields) for x in entries] == [
        ("borrower.reveal", "ALLOWED", [{"name": "phone", "clear": True}])
    ]
    assert borrower.phone not in str(entries[0]._mapping)  # audited without the value


# ---- Role changes -------------------------------------------------------------------------------


def role_change(field_name: str) -> str:
    return f"""
mutation($input: RoleChangeInput!) {{
  r: {field_name}(input: $input) {{
    {PAYLOAD} ... on RoleChangeSuccess {{ staff {{ login roles }} change {{ kind status }} }}
  }}
}}
"""


def role_variables(target: Target) -> dict[str, Any]:
    return {"input": {"login": target.login, "role": target.role, "reason": "covers the team"}}


async def roles_of(cell: Cell) -> list[str]:
    """The roles the target login holds (what a refused role change leaves alone)."""
    async with cell.engine.connect() as conn:
        stmt = select(s.roles).where(s.login == cell.target.login)
        return list((await conn.execute(stmt)).scalar_one())


def role_change_check(grant: bool) -> Check:
    """An administrator's proposal on a fresh staff member: a pending change, audited; the roles
    change only when a second person approves it (tests/e2e/test_changes.py)."""

    async def check(op: Operation, cell: Cell) -> None:
        before, role = await roles_of(cell), cell.target.role
        after = [*before, role] if grant else [r for r in before if r != role]
        assert after != before
        result, request_id = await cell.result(op.document, op.variables(cell.target))
        assert result == {
            "__typename": "RoleChangeSuccess",
            "staff": {"login": cell.target.login, "roles": before},
            "change": {"kind": "ROLE_GRANT" if grant else "ROLE_REVOKE", "status": "PENDING"},
        }
        assert await roles_of(cell) == before
        entries = await cell.entries(request_id)
        assert [(x.action, x.outcome, x.resource_type, x.changes["change"]) for x in entries] == [
            ("policy.change", "ALLOWED", "RuleChange", "PROPOSED")
        ]

    return check


def fresh_staff(*roles: str) -> MakeTarget:
    async def make(cell: Cell) -> Target:
        staff = await cell.world.factory.staff(team="West", roles=roles)
        return Target(staff=staff, login=staff.login, role="legal")

    return make


def tempting_change(grant: bool) -> MakeTarget:
    """What a caller who may not change roles tries, refused before anything is looked at:
    granting themselves admin or stripping the admin's role inside; giving a staff member of
    another agency an agency role outside."""

    async def aim(cell: Cell) -> Target:
        if cell.inside is False:
            other = STAFF_TARGETS[cell.login][1]
            assert other is not None
            return Target(login=other, role="agency_manager" if grant else "agency_agent")
        return Target(login=cell.login if grant else "admin", role="admin")

    return aim


# ---- The declarations ---------------------------------------------------------------------------

ASSIGNERS = frozenset({"admin", "manager", "team_lead"})
CASE_MANAGERS = frozenset({"admin", "manager"})
AUDIT_READERS = frozenset({"admin", "auditor"})
ADMINS = frozenset({"admin"})
PHONE_REVEALERS = frozenset(
    {"manager", "team_lead", "collector", "legal", "agency_manager", "agency_agent"}
)
CASE_NOT_FOUND = ("NotFoundError", "CASE_NOT_FOUND", "caseId")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="viewer",
        field="viewer",
        document=VIEWER,
        variables=lambda target: {},
        allowed=EVERY_ROLE,
        denied=None,
        check=check_viewer,
    ),
    Operation(
        name="cases",
        field="cases",
        document=CASES,
        variables=lambda target: {"search": target.made.case.reference},
        allowed=EVERY_ROLE,
        denied=None,
        check=check_cases,
        scope="case",
        outside=Empty(),
    ),
    Operation(
        name="case",
        field="case",
        document=CASE,
        variables=lambda target: {"id": target.made.gid},
        allowed=EVERY_ROLE,
        denied=None,
        check=check_case,
        scope="case",
        outside=Null(),
        masked=("nationalId", "phone", "email", "address", "employer"),
    ),
    *(node(type_name) for type_name in NODE_TYPES),
    Operation(
        name="auditTrail",
        field="auditTrail",
        document=AUDIT_TRAIL,
        variables=lambda target: {"login": target.staff.login if target.staff else None},
        allowed=AUDIT_READERS,
        permission="audit:read",
        denied=Forbidden("audit:read"),
        check=check_audit_trail,
        fresh=fresh_actor,
    ),
    Operation(
        name="accessHistory",
        field="accessHistory",
        document=ACCESS_HISTORY,
        variables=lambda target: {"id": global_id("Borrower", target.made.borrower.id)},
        allowed=AUDIT_READERS,
        permission="audit:read",
        denied=Forbidden("audit:read"),
        check=check_access_history,
        fresh=fresh_read_borrower,
    ),
    Operation(
        name="assignCase",
        field="assignCase",
        document=case_mutation("assignCase", "AssignCaseInput"),
        variables=case_input(assigneeLogin=ASSIGN_TO),
        allowed=ASSIGNERS,
        permission="case:assign",
        denied=Forbidden("case:assign"),
        check=case_change("case.assign", "CaseAssigned", assigned),
        scope="case",
        outside=Refused(*CASE_NOT_FOUND, "case.assign"),
        fresh=case_to_assign,
        snapshot=case_state,
    ),
    Operation(
        name="placeWithAgency",
        field="placeWithAgency",
        document=case_mutation("placeWithAgency", "PlaceWithAgencyInput"),
        variables=case_input(agencyName="Acme Recovery"),
        allowed=CASE_MANAGERS,
        permission="case:place",
        denied=Forbidden("case:place"),
        check=case_change("case.place", "CasePlaced", placed),
        scope="case",
        outside=Refused(*CASE_NOT_FOUND, "case.place"),
        fresh=unplaced_case,
        snapshot=case_state,
    ),
    Operation(
        name="recallFromAgency",
        field="recallFromAgency",
        document=case_mutation("recallFromAgency", "RecallFromAgencyInput"),
        variables=case_input(),
        allowed=CASE_MANAGERS,
        permission="case:recall",
        denied=Forbidden("case:recall"),
        check=case_change("case.recall", "CaseRecalled", recalled),
        scope="case",
        outside=Refused(*CASE_NOT_FOUND, "case.recall"),
        fresh=placed_case,
        snapshot=case_state,
    ),
    Operation(
        name="holdCase",
        field="holdCase",
        document=case_mutation("holdCase", "HoldCaseInput"),
        variables=case_input(reason="HOSPITALISATION"),
        allowed=CASE_MANAGERS,
        permission="case:hold",
        denied=Forbidden("case:hold"),
        check=case_change("case.hold", "CaseTransitioned", held),
        scope="case",
        outside=Refused(*CASE_NOT_FOUND, "case.hold"),
        fresh=unplaced_case,
        snapshot=case_state,
    ),
    Operation(
        name="resumeCase",
        field="resumeCase",
        document=case_mutation("resumeCase", "ResumeCaseInput"),
        variables=case_input(),
        allowed=CASE_MANAGERS,
        permission="case:hold",
        denied=Forbidden("case:hold"),
        check=case_change("case.resume", "CaseTransitioned", resumed),
        scope="case",
        outside=Refused(*CASE_NOT_FOUND, "case.resume"),
        fresh=held_case,
        snapshot=case_state,
    ),
    Operation(
        name="revealConfidential",
        field="revealConfidential",
        document=REVEAL,
        variables=reveal_variables,
        allowed=PHONE_REVEALERS,
        permission="borrower:reveal:phone",
        denied=Refused("RevealNotAllowedError", "REVEAL_NOT_ALLOWED", "field", "borrower.reveal"),
        check=check_reveal,
        scope="case",
        outside=Refused("NotFoundError", "BORROWER_NOT_FOUND", "borrowerId", "borrower.reveal"),
    ),
    Operation(
        name="grantRole",
        field="grantRole",
        document=role_change("grantRole"),
        variables=role_variables,
        allowed=ADMINS,
        permission="role:grant",
        denied=Forbidden("role:grant"),
        check=role_change_check(grant=True),
        scope="staff",
        fresh=fresh_staff("collector"),
        aim=tempting_change(grant=True),
        snapshot=roles_of,
    ),
    Operation(
        name="revokeRole",
        field="revokeRole",
        document=role_change("revokeRole"),
        variables=role_variables,
        allowed=ADMINS,
        permission="role:grant",
        denied=Forbidden("role:grant"),
        check=role_change_check(grant=False),
        scope="staff",
        fresh=fresh_staff("collector", "legal"),
        aim=tempting_change(grant=False),
        snapshot=roles_of,
    ),
)

# Collection work: payments and promises (tests/operations_payments.py).
OPERATIONS = (*OPERATIONS, *PAYMENT_OPERATIONS)

# Collection work: allocation and the worklist (tests/operations_work.py).
OPERATIONS = (*OPERATIONS, *WORK_OPERATIONS)

# Collection work: contacts and contact points (tests/operations_contacts.py).
OPERATIONS = (*OPERATIONS, *CONTACT_OPERATIONS)

# The daily cycle: early warning (tests/operations_warnings.py).
OPERATIONS = (*OPERATIONS, *WARNING_OPERATIONS)

# The daily cycle: complaints and borrower flags (tests/operations_protections.py).
OPERATIONS = (*OPERATIONS, *PROTECTION_OPERATIONS)

# The daily cycle: the decisions feed (tests/operations_decisions.py).
OPERATIONS = (*OPERATIONS, *DECISION_OPERATIONS)

# Debt handling: restructurings and their maker–checker (tests/operations_restructuring.py).
OPERATIONS = (*OPERATIONS, *RESTRUCTURING_OPERATIONS)

# Debt handling: legal escalation (tests/operations_legal.py).
OPERATIONS = (*OPERATIONS, *LEGAL_OPERATIONS)

# The data life cycle: legal holds (tests/operations_retention.py).
OPERATIONS = (*OPERATIONS, *RETENTION_OPERATIONS)

# Debt handling: evidence packs (tests/operations_evidence.py).
OPERATIONS = (*OPERATIONS, *EVIDENCE_OPERATIONS)

# Debt handling: write-off and recovery (tests/operations_writeoff.py).
OPERATIONS = (*OPERATIONS, *WRITE_OFF_OPERATIONS)

# Debt handling: maker–checker of rules and roles (tests/operations_changes.py).
OPERATIONS = (*OPERATIONS, *CHANGE_OPERATIONS)

# Strategies: completing the tasks a strategy gives to people (tests/operations_tasks.py).
OPERATIONS = (*OPERATIONS, *TASK_OPERATIONS)

# Strategies: the versions listed and the promotion of a challenger
# (tests/operations_strategies.py).
OPERATIONS = (*OPERATIONS, *STRATEGY_OPERATIONS)

# Strategies: notices listed and their delivery receipts (tests/operations_notices.py).
OPERATIONS = (*OPERATIONS, *NOTICE_OPERATIONS)

# Reporting: the portfolio report, scorecards and the variant comparison
# (tests/operations_reports.py).
OPERATIONS = (*OPERATIONS, *REPORT_OPERATIONS)

# API clients of partner agencies: listed, created, rotated, held to allowed operations,
# revoked (tests/operations_clients.py).
OPERATIONS = (*OPERATIONS, *CLIENT_OPERATIONS)
