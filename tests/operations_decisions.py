"""Access-matrix declaration of the decisions feed (tests/operations.py joins it to OPERATIONS):
``decisions(first, after)``, for the core's integration login and those who oversee it (admin,
manager, auditor: decision:read). Each of them sees the whole stream; everybody else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from store import decisions, tables
from tests.matrix import Cell, Forbidden, Operation, Target, roles_holding

DECISIONS = """
query($after: String) {
  r: decisions(first: 5, after: $after) {
    totalCount edges { node { kind caseReference actor data } }
  }
}
"""
PLACE = """
mutation($input: PlaceWithAgencyInput!) {
  r: placeWithAgency(input: $input) { __typename }
}
"""


@dataclass
class FeedTarget(Target):
    """A case just placed with an agency, and the feed's cursor from before the placement."""

    after: str | None = None


async def fresh_decision(cell: Cell) -> Target:
    """A new case placed by the manager: exactly one decision after the returned cursor."""
    made = await cell.world.factory.case()
    async with cell.engine.connect() as conn:
        last = await decisions.last_id(conn)
    variables = {"input": {"caseId": made.gid, "agencyName": "Acme Recovery"}}
    body, _ = await cell.send(PLACE, variables, login="manager")
    assert body["data"]["r"]["__typename"] == "PlaceWithAgencySuccess", body
    return FeedTarget(case=made, after=decisions.encode_cursor(last) if last else None)


def feed_variables(target: Target) -> dict[str, Any]:
    return {"after": target.after if isinstance(target, FeedTarget) else None}


async def check_decisions(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    async with cell.engine.connect() as conn:
        total = await decisions.count(conn)
    async with cell.engine.connect() as conn:
        c = tables.cases.c
        ends = (
            await conn.execute(select(c.placement_ends_on).where(c.id == cell.target.made.case.id))
        ).scalar_one()
    node = {
        "kind": "CASE_PLACED",
        "caseReference": cell.target.made.case.reference,
        "actor": "manager",
        "data": {"agencyName": "Acme Recovery", "placementEndsOn": ends.isoformat()},
    }
    assert result == {"totalCount": total, "edges": [{"node": node}]}
    (entry,) = await cell.entries(request_id)
    assert (entry.action, entry.outcome, entry.case_ids) == (
        "decision.read",
        "ALLOWED",
        [cell.target.made.case.id],
    )
    assert entry.changes["decisions"] == 1


DECISION_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="decisions",
        field="decisions",
        document=DECISIONS,
        variables=feed_variables,
        allowed=roles_holding("decision:read"),
        permission="decision:read",
        denied=Forbidden("decision:read"),
        check=check_decisions,
        fresh=fresh_decision,
    ),
)
