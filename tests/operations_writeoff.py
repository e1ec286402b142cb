"""Access-matrix declarations of write-off and recovery (tests/operations.py joins them to
OPERATIONS): writeOff and markDebtSold, both case:write_off — managers only. A manager sees every
case, so no case lies outside their reach; every other role is FORBIDDEN and changes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from store import tables
from tests.matrix import Cell, Forbidden, Operation, Refused, Target, roles_holding

PAYLOAD = "__typename ... on UserError { code field }"
REASON = "collection effort exhausted"
c, ev = tables.cases.c, tables.case_events.c

WRITE_OFF = f"""
mutation($input: WriteOffInput!) {{
  r: writeOff(input: $input) {{
    {PAYLOAD}
    ... on WriteOffSuccess {{ writeOff {{ source reasonCode }} case {{ id status stage }} }}
  }}
}}
"""
SOLD = f"""
mutation($input: MarkDebtSoldInput!) {{
  r: markDebtSold(input: $input) {{
    {PAYLOAD} ... on MarkDebtSoldSuccess {{ case {{ id status stage closeReason }} }}
  }}
}}
"""


def write_off_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {"caseId": target.made.gid, "reasonCode": "UNCOLLECTIBLE", "reasonText": REASON}
    }


def sold_variables(target: Target) -> dict[str, Any]:
    return {"input": {"caseId": target.made.gid, "reasonText": "sold to a debt buyer"}}


async def fresh_legal_case(cell: Cell) -> Target:
    """A case in stage LEGAL: the policy allows its write-off whatever its DPD."""
    return Target(case=await cell.world.factory.case(stage="LEGAL"))


async def fresh_written_off_case(cell: Cell) -> Target:
    return Target(case=await cell.world.factory.case(stage="WRITTEN_OFF"))


async def case_state(cell: Cell) -> tuple[Any, ...]:
    """What a refusal leaves alone: the case's row and its events."""
    made = cell.target.made
    async with cell.engine.connect() as conn:
        row = (await conn.execute(select(tables.cases).where(c.id == made.case.id))).one()
        stmt = select(ev.name).where(ev.case_id == made.case.id).order_by(ev.id)
        events = tuple((await conn.execute(stmt)).scalars())
    return tuple(row), events


async def _events(cell: Cell) -> list[str]:
    async with cell.engine.connect() as conn:
        stmt = select(ev.name).where(ev.case_id == cell.target.made.case.id).order_by(ev.id)
        return list((await conn.execute(stmt)).scalars())


async def check_write_off(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "WriteOffSuccess",
        "writeOff": {"source": "MANAGER", "reasonCode": "UNCOLLECTIBLE"},
        "case": {"id": made.gid, "status": "OPEN", "stage": "WRITTEN_OFF"},
    }
    assert await _events(cell) == ["CaseTransitioned", "CaseWrittenOff", "ChargeOffRequested"]
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.reason_code, x.reason_text) for x in entries] == [
        ("case.write_off", "ALLOWED", "UNCOLLECTIBLE", REASON)
    ]


async def check_sold(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "MarkDebtSoldSuccess",
        "case": {
            "id": made.gid,
            "status": "CLOSED",
            "stage": "WRITTEN_OFF",
            "closeReason": "DEBT_SOLD",
        },
    }
    assert await _events(cell) == ["CaseTransitioned"]
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.reason_code) for x in entries] == [
        ("case.transition", "ALLOWED", "DEBT_SOLD")
    ]


WRITE_OFF_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="writeOff",
        field="writeOff",
        document=WRITE_OFF,
        variables=write_off_variables,
        allowed=roles_holding("case:write_off"),
        permission="case:write_off",
        denied=Forbidden("case:write_off"),
        check=check_write_off,
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "case.write_off"),
        fresh=fresh_legal_case,
        snapshot=case_state,
    ),
    Operation(
        name="markDebtSold",
        field="markDebtSold",
        document=SOLD,
        variables=sold_variables,
        allowed=roles_holding("case:write_off"),
        permission="case:write_off",
        denied=Forbidden("case:write_off"),
        check=check_sold,
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "case.transition"),
        fresh=fresh_written_off_case,
        snapshot=case_state,
    ),
)
