"""Access-matrix declarations of the data life cycle (tests/operations.py joins them to
OPERATIONS): placeLegalHold and releaseLegalHold.

Admins, managers and legal staff manage legal holds (``legal_hold:manage``) on cases they can see;
legal staff see only LEGAL cases. Outside the caller's scope a case is CASE_NOT_FOUND, exactly as
one that does not exist."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from store import tables
from tests.factories import writing
from tests.matrix import Cell, Forbidden, Operation, Refused, Target, roles_holding

PAYLOAD = "__typename ... on UserError { code field }"
PLACE = f"""
mutation($input: PlaceLegalHoldInput!) {{
  r: placeLegalHold(input: $input) {{
    {PAYLOAD} ... on PlaceLegalHoldSuccess {{ legalHold {{ inForce }} case {{ id }} }}
  }}
}}
"""
RELEASE = f"""
mutation($input: ReleaseLegalHoldInput!) {{
  r: releaseLegalHold(input: $input) {{
    {PAYLOAD} ... on ReleaseLegalHoldSuccess {{ legalHold {{ inForce }} case {{ id }} }}
  }}
}}
"""
lh = tables.legal_holds.c


async def legal_case(cell: Cell) -> Target:
    """A new LEGAL case: within the reach of everyone who manages holds."""
    return Target(case=await cell.world.factory.case(stage="LEGAL", classification="SEVERE"))


async def held_legal_case(cell: Cell) -> Target:
    """A new LEGAL case with a hold in force."""
    target = await legal_case(cell)
    async with writing(cell.engine) as conn:
        await conn.execute(
            insert(tables.legal_holds).values(
                case_id=target.made.case.id, reason="litigation", placed_at=datetime.now(UTC)
            )
        )
    return target


async def holds_state(cell: Cell) -> tuple[Any, ...]:
    """What a refusal leaves alone: the case's holds."""
    async with cell.engine.connect() as conn:
        stmt = select(lh.id, lh.released_at).where(lh.case_id == cell.target.made.case.id)
        return tuple((await conn.execute(stmt.order_by(lh.id))).all())


def check(typename: str, in_force: bool, action: str) -> Any:
    async def run(op: Operation, cell: Cell) -> None:
        result, request_id = await cell.result(op.document, op.variables(cell.target))
        assert result == {
            "__typename": typename,
            "legalHold": {"inForce": in_force},
            "case": {"id": cell.target.made.gid},
        }
        entries = [
            (e.action, e.outcome)
            for e in await cell.entries(request_id)
            if e.action.startswith("legal_hold.")
        ]
        assert entries == [(action, "ALLOWED")]

    return run


RETENTION_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="placeLegalHold",
        field="placeLegalHold",
        document=PLACE,
        variables=lambda target: {"input": {"caseId": target.made.gid, "reason": "litigation"}},
        allowed=roles_holding("legal_hold:manage"),
        permission="legal_hold:manage",
        denied=Forbidden("legal_hold:manage"),
        check=check("PlaceLegalHoldSuccess", True, "legal_hold.place"),
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "legal_hold.place"),
        fresh=legal_case,
        snapshot=holds_state,
    ),
    Operation(
        name="releaseLegalHold",
        field="releaseLegalHold",
        document=RELEASE,
        variables=lambda target: {"input": {"caseId": target.made.gid, "reason": "settled"}},
        allowed=roles_holding("legal_hold:manage"),
        permission="legal_hold:manage",
        denied=Forbidden("legal_hold:manage"),
        check=check("ReleaseLegalHoldSuccess", False, "legal_hold.release"),
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "legal_hold.release"),
        fresh=held_legal_case,
        snapshot=holds_state,
    ),
)
