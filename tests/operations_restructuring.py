"""Access-matrix declarations of restructurings (tests/operations.py joins them to OPERATIONS):
proposeRestructuring, approveRestructuring, rejectRestructuring and node(id:) of a
Restructuring. Case.restructurings is a field of Case, read wherever the case is
(tests/e2e/test_restructuring.py covers it).

Restructurings are proposed by those who work cases, agency users on their agency's cases
(``restructuring:propose``); decided by team leads and managers (``restructuring:approve``), never
by the maker. Outside the caller's scope a case is CASE_NOT_FOUND and a restructuring
RESTRUCTURING_NOT_FOUND (null through node), exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from store import tables
from tests.factories import global_id
from tests.matrix import (
    CASE_TARGETS,
    EVERY_ROLE,
    Cell,
    Forbidden,
    Null,
    Operation,
    Refused,
    Target,
    roles_holding,
)
from tests.operations_contacts import case_in_reach

rs = tables.restructurings.c
PAYLOAD = "__typename ... on UserError { code field }"


@dataclass
class RestructuringTarget(Target):
    """A case with a PROPOSED penalty waiver (``restructuring``) made by someone else."""

    restructuring: int | None = None


async def _proposed(cell: Cell, target: Target) -> RestructuringTarget:
    made = target.made
    maker = cell.world.staff["collector2"]  # never a login of the matrix: not the checker
    row = await cell.world.factory._insert(
        tables.restructurings,
        {
            "case_id": made.case.id,
            "kind": "PENALTY_WAIVER",
            "status": "PROPOSED",
            "currency": "CNY",
            "balance": Decimal("20970.50"),
            "concession": Decimal("10.00"),
            "waiver_amount": Decimal("10.00"),
            "grace_days": 5,
            "required_authority": "team_lead",
            "reason": "matrix",
            "proposed_by": maker.id,
            "proposed_at": datetime.now(UTC),
            "payments_in_row": 0,
            "paid_amount": Decimal("0.00"),
            "version": 1,
        },
    )
    return RestructuringTarget(case=made, restructuring=row.id)


async def fresh_proposed(cell: Cell) -> Target:
    return await _proposed(cell, await case_in_reach(cell))


async def world_proposed(cell: Cell) -> Target:
    name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
    assert name is not None
    return await _proposed(cell, Target(case=cell.world.cases[name]))


async def restructurings_of(cell: Cell) -> list[Any]:
    async with cell.engine.connect() as conn:
        stmt = select(tables.restructurings).where(rs.case_id == cell.target.made.case.id)
        return list((await conn.execute(stmt.order_by(rs.id))).all())


def _gid(target: Target) -> str:
    assert isinstance(target, RestructuringTarget) and target.restructuring is not None
    return global_id("Restructuring", target.restructuring)


PROPOSE = f"""
mutation($input: ProposeRestructuringInput!) {{
  r: proposeRestructuring(input: $input) {{
    {PAYLOAD} ... on ProposeRestructuringSuccess {{
      restructuring {{ kind status requiredAuthority proposedBy {{ login }} case {{ id }} }}
    }}
  }}
}}
"""
APPROVE = f"""
mutation($input: ApproveRestructuringInput!) {{
  r: approveRestructuring(input: $input) {{
    {PAYLOAD} ... on ApproveRestructuringSuccess {{
      restructuring {{ status decidedBy {{ login }} }}
    }}
  }}
}}
"""
REJECT = f"""
mutation($input: RejectRestructuringInput!) {{
  r: rejectRestructuring(input: $input) {{
    {PAYLOAD} ... on RejectRestructuringSuccess {{
      restructuring {{ status decisionReason decidedBy {{ login }} }}
    }}
  }}
}}
"""
NODE = """
query($id: ID!) {
  r: node(id: $id) { __typename id ... on Restructuring { kind status concession { amount } } }
}
"""


def propose_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "caseId": target.made.gid,
            "kind": "PENALTY_WAIVER",
            "waiverAmount": "10.00",
            "reason": "matrix waiver",
        }
    }


async def _entries(cell: Cell, request_id: str) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in await cell.entries(request_id)]


async def check_propose(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "ProposeRestructuringSuccess",
        "restructuring": {
            "kind": "PENALTY_WAIVER",
            "status": "PROPOSED",
            "requiredAuthority": "team_lead",
            "proposedBy": {"login": cell.login},
            "case": {"id": cell.target.made.gid},
        },
    }
    [row] = await restructurings_of(cell)
    assert (row.status, row.proposed_by) == ("PROPOSED", cell.world.staff[cell.login].id)
    assert await _entries(cell, request_id) == [("restructuring.propose", "ALLOWED")]


async def check_approve(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "ApproveRestructuringSuccess",
        "restructuring": {"status": "APPROVED", "decidedBy": {"login": cell.login}},
    }
    [row] = await restructurings_of(cell)
    assert (row.status, row.decided_by) == ("APPROVED", cell.world.staff[cell.login].id)
    assert await _entries(cell, request_id) == [("restructuring.approve", "ALLOWED")]


async def check_reject(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "RejectRestructuringSuccess",
        "restructuring": {
            "status": "REJECTED",
            "decisionReason": "matrix rejection",
            "decidedBy": {"login": cell.login},
        },
    }
    [row] = await restructurings_of(cell)
    assert (row.status, row.decision_reason) == ("REJECTED", "matrix rejection")
    assert await _entries(cell, request_id) == [("restructuring.reject", "ALLOWED")]


async def check_node(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "Restructuring",
        "id": _gid(cell.target),
        "kind": "PENALTY_WAIVER",
        "status": "PROPOSED",
        "concession": {"amount": "10.00"},
    }


RESTRUCTURING_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="proposeRestructuring",
        field="proposeRestructuring",
        document=PROPOSE,
        variables=propose_variables,
        allowed=roles_holding("restructuring:propose"),
        permission="restructuring:propose",
        denied=Forbidden("restructuring:propose"),
        check=check_propose,
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "restructuring.propose"),
        fresh=case_in_reach,
        snapshot=restructurings_of,
    ),
    Operation(
        name="approveRestructuring",
        field="approveRestructuring",
        document=APPROVE,
        variables=lambda target: {"input": {"restructuringId": _gid(target)}},
        allowed=roles_holding("restructuring:approve"),
        permission="restructuring:approve",
        denied=Forbidden("restructuring:approve"),
        check=check_approve,
        scope="case",
        outside=Refused(
            "NotFoundError", "RESTRUCTURING_NOT_FOUND", "restructuringId", "restructuring.approve"
        ),
        fresh=fresh_proposed,
        aim=world_proposed,
        snapshot=restructurings_of,
    ),
    Operation(
        name="rejectRestructuring",
        field="rejectRestructuring",
        document=REJECT,
        variables=lambda target: {
            "input": {"restructuringId": _gid(target), "reason": "matrix rejection"}
        },
        allowed=roles_holding("restructuring:approve"),
        permission="restructuring:approve",
        denied=Forbidden("restructuring:approve"),
        check=check_reject,
        scope="case",
        outside=Refused(
            "NotFoundError", "RESTRUCTURING_NOT_FOUND", "restructuringId", "restructuring.reject"
        ),
        fresh=fresh_proposed,
        aim=world_proposed,
        snapshot=restructurings_of,
    ),
    Operation(
        name="nodeRestructuring",
        field="node",
        document=NODE,
        variables=lambda target: {"id": _gid(target)},
        allowed=EVERY_ROLE,
        denied=None,
        check=check_node,
        scope="case",
        outside=Null(),
        aim=world_proposed,
    ),
)
