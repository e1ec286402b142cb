"""Access-matrix declarations of strategies (tests/operations.py joins them to OPERATIONS):
strategies (strategy:read: admin, manager, team lead, auditor) and promoteChallenger
(rule_change:propose: admin, manager). Neither is scoped by case or staff: one cell per login.

An allowed promotion needs a running challenger: each such cell stores one for STANDARD (share
0.0001 of its LEGAL segment, whose definition is that segment as it is, so it changes no
treatment) and proposes its promotion — STANDARD with LEGAL replaced by the same — from 2099,
never approved here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from domain.strategies.definition import STANDARD, strategy_to_payload
from store import tables
from tests.factories import global_id, writing
from tests.matrix import Cell, Forbidden, Operation, Target, roles_holding
from tests.operations_changes import change_state

PAYLOAD = "__typename ... on UserError { code field }"
rc, rv = tables.rule_changes.c, tables.rule_set_versions.c
FAR = datetime(2099, 1, 1, tzinfo=UTC)
KINDS = ("STRATEGY", "STRATEGY_CHALLENGER")

# ---- strategies ---------------------------------------------------------------------------------

STRATEGIES = "{ r: strategies { name version status variants kind changeId } }"


async def check_strategies(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, {})
    async with cell.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(func.count()).select_from(tables.rule_set_versions).where(rv.kind.in_(KINDS))
            )
        ).scalar_one()
        pending = (
            (await conn.execute(select(rc.id).where(rc.kind.in_(KINDS), rc.status == "PENDING")))
            .scalars()
            .all()
        )
        champions = (
            await conn.execute(
                select(func.count())
                .select_from(tables.rule_set_versions)
                .where(rv.kind == "STRATEGY")
            )
        ).scalar_one()
    # The checked-in default, every approved version and every pending proposal.
    assert len(result) == 1 + stored + len(pending)
    assert {r["changeId"] for r in result if r["status"] == "DRAFT"} == {
        global_id("RuleChange", i) for i in pending
    }
    default = [r for r in result if (r["name"], r["version"]) == ("STANDARD", STANDARD.version)]
    assert champions == 0  # the matrix approves no strategy: the default is the champion
    assert default == [
        {
            "name": "STANDARD",
            "version": STANDARD.version,
            "status": "ACTIVE",
            "variants": ["CHAMPION"],
            "kind": "CHAMPION",
            "changeId": None,
        }
    ]
    assert [r["name"] for r in result] == sorted(r["name"] for r in result)


# ---- promoteChallenger --------------------------------------------------------------------------

PROMOTE = f"""
mutation($input: PromoteChallengerInput!) {{
  r: promoteChallenger(input: $input) {{
    {PAYLOAD} ... on PromoteChallengerSuccess {{
      change {{ id kind name status payload proposedBy {{ login }} }}
    }}
  }}
}}
"""


def challenger_payload() -> dict[str, Any]:
    legal = strategy_to_payload(STANDARD)["segments"][0]
    assert legal["name"] == "LEGAL" and legal["steps"] == []
    return {
        "version": f"matrix-{uuid.uuid4().hex[:12]}",
        "share": "0.0001",
        "segments": ["LEGAL"],
        "definition": {"description": "matrix", "segments": [legal]},
    }


async def running_challenger(cell: Cell) -> Target:
    """A challenger of STANDARD approved a minute ago (it runs against the default)."""
    async with writing(cell.engine) as conn:
        number = (
            await conn.execute(
                select(func.coalesce(func.max(rv.version), 0)).where(
                    rv.kind == "STRATEGY_CHALLENGER", rv.name == "STANDARD"
                )
            )
        ).scalar_one()
        await conn.execute(
            insert(tables.rule_set_versions).values(
                kind="STRATEGY_CHALLENGER",
                name="STANDARD",
                version=int(number) + 1,
                payload=challenger_payload(),
                effective_from=datetime.now(UTC) - timedelta(minutes=1),
            )
        )
    return Target()


def promote_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "strategy": "STANDARD",
            "version": f"matrix-{uuid.uuid4().hex[:12]}",
            "effectiveFrom": FAR.isoformat(),
            "reason": "matrix",
        }
    }


async def check_promote(op: Operation, cell: Cell) -> None:
    variables = op.variables(cell.target)
    result, request_id = await cell.result(op.document, variables)
    assert result["__typename"] == "PromoteChallengerSuccess", result
    change = result["change"]
    assert {k: v for k, v in change.items() if k not in ("id", "payload")} == {
        "kind": "STRATEGY",
        "name": "STANDARD",
        "status": "PENDING",
        "proposedBy": {"login": cell.login},
    }
    assert change["payload"]["version"] == variables["input"]["version"]
    # The champion with its LEGAL segment replaced by the challenger's (alike: no steps).
    assert change["payload"]["segments"] == strategy_to_payload(STANDARD)["segments"]
    assert change["payload"]["description"] == STANDARD.description
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.resource_ids, x.changes["change"]) for x in entries] == [
        ("policy.change", "ALLOWED", [change["id"]], "PROPOSED")
    ]


STRATEGY_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="strategies",
        field="strategies",
        document=STRATEGIES,
        variables=lambda target: {},
        allowed=roles_holding("strategy:read"),
        permission="strategy:read",
        denied=Forbidden("strategy:read"),
        check=check_strategies,
    ),
    Operation(
        name="promoteChallenger",
        field="promoteChallenger",
        document=PROMOTE,
        variables=promote_variables,
        allowed=roles_holding("rule_change:propose"),
        permission="rule_change:propose",
        denied=Forbidden("rule_change:propose"),
        check=check_promote,
        fresh=running_challenger,
        snapshot=change_state,
    ),
)
