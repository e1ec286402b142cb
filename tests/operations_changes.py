"""Access-matrix declarations of maker–checker (tests/operations.py joins them to OPERATIONS):
proposeRuleChange, approveRuleChange, rejectRuleChange, ruleChanges, ruleSet and ruleSets.

Administrators and managers propose and decide changes (never their own: the matrix's changes
are proposed by the other of the two); they and auditors read them. Changes are not scoped by
case or staff: one cell per login. The matrix's changes start in 2099, so no version they write
ever takes effect in the matrix's world.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select

from domain.changes import rules
from domain.payments.waterfall import DEFAULT_WATERFALL
from store import tables
from tests.factories import global_id, writing
from tests.matrix import Cell, Forbidden, Operation, Target, roles_holding

PAYLOAD = "__typename ... on UserError { code field }"
rc = tables.rule_changes.c
FAR = datetime(2099, 1, 1, tzinfo=UTC)
WATERFALL = rules.waterfall_to_payload(DEFAULT_WATERFALL)


def waterfall() -> dict[str, Any]:
    """The default order under a label of its own (a label names one version of a rule set)."""
    return {**WATERFALL, "version": f"matrix-{uuid.uuid4().hex[:12]}"}


@dataclass
class ChangeTarget(Target):
    """A pending change (its global ID), proposed by someone other than the cell's login."""

    node: str | None = None


def change_of(target: Target) -> str:
    assert isinstance(target, ChangeTarget) and target.node is not None
    return target.node


def pk(gid: str) -> int:
    return int(base64.b64decode(gid).decode().split(":")[1])


async def pending_change(cell: Cell) -> Target:
    """A pending waterfall change by the admin (by the manager when the admin calls)."""
    maker = "manager" if cell.login == "admin" else "admin"
    async with writing(cell.engine) as conn:
        result = await conn.execute(
            insert(tables.rule_changes).values(
                kind="WATERFALL",
                name="default",
                payload=waterfall(),
                status="PENDING",
                reason="matrix",
                effective_from=FAR,
                proposed_by=cell.world.staff[maker].id,
                proposed_at=datetime.now(UTC),
                version=1,
            )
        )
        assert result.inserted_primary_key is not None
        change_id = int(result.inserted_primary_key[0])
    return ChangeTarget(node=global_id("RuleChange", change_id))


async def change_state(cell: Cell) -> Any:
    """What a refusal leaves alone: every change's status and the versions written."""
    async with cell.engine.connect() as conn:
        statuses = (await conn.execute(select(rc.id, rc.status).order_by(rc.id))).all()
        versions = (
            await conn.execute(select(func.count()).select_from(tables.rule_set_versions))
        ).scalar_one()
    return [tuple(row) for row in statuses], versions


PROPOSERS = roles_holding("rule_change:propose")
DECIDERS = roles_holding("rule_change:approve")
READERS = roles_holding("rule_change:read")

# ---- proposeRuleChange --------------------------------------------------------------------------

PROPOSE = f"""
mutation($input: ProposeRuleChangeInput!) {{
  r: proposeRuleChange(input: $input) {{
    {PAYLOAD} ... on ProposeRuleChangeSuccess {{
      change {{ id kind name status proposedBy {{ login }} decidedBy {{ login }} }}
    }}
  }}
}}
"""


def propose_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "kind": "WATERFALL",
            "name": "default",
            "payload": waterfall(),
            "effectiveFrom": FAR.isoformat(),
            "reason": "matrix",
        }
    }


async def check_propose(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result["__typename"] == "ProposeRuleChangeSuccess", result
    change = result["change"]
    assert {k: v for k, v in change.items() if k != "id"} == {
        "kind": "WATERFALL",
        "name": "default",
        "status": "PENDING",
        "proposedBy": {"login": cell.login},
        "decidedBy": None,
    }
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.resource_ids, x.changes["change"]) for x in entries] == [
        ("policy.change", "ALLOWED", [change["id"]], "PROPOSED")
    ]


# ---- approveRuleChange and rejectRuleChange -----------------------------------------------------

APPROVE = f"""
mutation($id: ID!) {{
  r: approveRuleChange(input: {{changeId: $id}}) {{
    {PAYLOAD} ... on ApproveRuleChangeSuccess {{
      change {{ id status ruleSetVersion decidedBy {{ login }} }} staff {{ login }}
    }}
  }}
}}
"""
REJECT = f"""
mutation($id: ID!) {{
  r: rejectRuleChange(input: {{changeId: $id, reason: "matrix"}}) {{
    {PAYLOAD} ... on RejectRuleChangeSuccess {{
      change {{ id status decisionReason decidedBy {{ login }} }}
    }}
  }}
}}
"""


def decide_variables(target: Target) -> dict[str, Any]:
    return {"id": change_of(target)}


def check_decision(approve: bool) -> Any:
    async def check(op: Operation, cell: Cell) -> None:
        gid = change_of(cell.target)
        result, request_id = await cell.result(op.document, op.variables(cell.target))
        change = result["change"]
        assert (change["id"], change["decidedBy"]) == (gid, {"login": cell.login})
        async with cell.engine.connect() as conn:
            row = (await conn.execute(select(tables.rule_changes).where(rc.id == pk(gid)))).one()
            versions = (
                await conn.execute(
                    select(tables.rule_set_versions.c.version).where(
                        tables.rule_set_versions.c.change_id == pk(gid)
                    )
                )
            ).all()
        assert row.status == change["status"] == ("APPROVED" if approve else "REJECTED")
        assert row.decided_by == cell.world.staff[cell.login].id
        if approve:
            assert result["staff"] is None
            assert [v.version for v in versions] == [change["ruleSetVersion"]]
        else:
            assert change["decisionReason"] == "matrix" and versions == []
        entries = await cell.entries(request_id)
        assert [(x.action, x.outcome, x.changes["change"]) for x in entries] == [
            ("policy.change", "ALLOWED", "APPROVED" if approve else "REJECTED")
        ]

    return check


# ---- ruleChanges, ruleSet, ruleSets -------------------------------------------------------------

CHANGES = "{ r: ruleChanges(first: 100) { totalCount edges { node { id status } } } }"


async def check_changes(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, {})
    async with cell.engine.connect() as conn:
        rows = (await conn.execute(select(rc.id, rc.status).order_by(rc.id.desc()))).all()
    assert result["totalCount"] == len(rows)
    assert result["edges"] == [
        {"node": {"id": global_id("RuleChange", r.id), "status": r.status}} for r in rows[:100]
    ]


RULE_SET = """
{ r: ruleSet(kind: WATERFALL, name: "default") {
    kind name builtin inEffect { version } versions { version } } }
"""


async def check_rule_set(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, {})
    v = tables.rule_set_versions.c
    async with cell.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(v.version)
                .where(v.kind == "WATERFALL", v.name == "default")
                .order_by(v.version.desc())
            )
        ).all()
    assert result == {
        "kind": "WATERFALL",
        "name": "default",
        "builtin": WATERFALL,
        "inEffect": None,  # the matrix's versions start in 2099
        "versions": [{"version": row.version} for row in stored],
    }


RULE_SETS = "{ r: ruleSets { kind name } }"


async def check_rule_sets(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, {})
    names = {(r["kind"], r["name"]) for r in result}
    assert {("WATERFALL", "default"), ("CONDUCT_PROFILE", "CN"), ("WARNING_RULES", "default")} <= (
        names
    )
    assert result == sorted(result, key=lambda r: (r["kind"], r["name"]))


CHANGE_OPERATIONS = [
    Operation(
        name="proposeRuleChange",
        field="proposeRuleChange",
        document=PROPOSE,
        variables=propose_variables,
        allowed=PROPOSERS,
        permission="rule_change:propose",
        denied=Forbidden("rule_change:propose"),
        check=check_propose,
        snapshot=change_state,
    ),
    Operation(
        name="approveRuleChange",
        field="approveRuleChange",
        document=APPROVE,
        variables=decide_variables,
        allowed=DECIDERS,
        permission="rule_change:approve",
        denied=Forbidden("rule_change:approve"),
        check=check_decision(approve=True),
        fresh=pending_change,
        aim=pending_change,
        snapshot=change_state,
    ),
    Operation(
        name="rejectRuleChange",
        field="rejectRuleChange",
        document=REJECT,
        variables=decide_variables,
        allowed=DECIDERS,
        permission="rule_change:approve",
        denied=Forbidden("rule_change:approve"),
        check=check_decision(approve=False),
        fresh=pending_change,
        aim=pending_change,
        snapshot=change_state,
    ),
    Operation(
        name="ruleChanges",
        field="ruleChanges",
        document=CHANGES,
        variables=lambda target: {},
        allowed=READERS,
        permission="rule_change:read",
        denied=Forbidden("rule_change:read"),
        check=check_changes,
    ),
    Operation(
        name="ruleSet",
        field="ruleSet",
        document=RULE_SET,
        variables=lambda target: {},
        allowed=READERS,
        permission="rule_change:read",
        denied=Forbidden("rule_change:read"),
        check=check_rule_set,
    ),
    Operation(
        name="ruleSets",
        field="ruleSets",
        document=RULE_SETS,
        variables=lambda target: {},
        allowed=READERS,
        permission="rule_change:read",
        denied=Forbidden("rule_change:read"),
        check=check_rule_sets,
    ),
]
