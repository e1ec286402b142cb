"""Access-matrix declarations of early warning (tests/operations.py joins them to OPERATIONS):
``warnings``, ``node`` for a Warning, acknowledgeWarning, handleWarning and postExternalSignal.

A warning is visible exactly when its case is: every role reads the warnings of the cases it can
see and nothing of the others. Collectors, team leads, managers and agency staff acknowledge and
handle them (on those cases only: outside, WARNING_NOT_FOUND); managers and the integration role
post partner signals.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.factories import MadeCase, global_id, writing
from tests.matrix import (
    CASE_TARGETS,
    EVERY_ROLE,
    Cell,
    Empty,
    Forbidden,
    Null,
    Operation,
    Refused,
    Target,
    roles_holding,
)

PAYLOAD = "__typename ... on UserError { code field }"
w = tables.warnings.c
_causes = itertools.count(1)


async def insert_warning(
    engine: AsyncEngine,
    made: MadeCase,
    rule: str = "LARGE_OUTSTANDING",
    severity: str = "HIGH",
    status: str = "RAISED",
) -> int:
    """A raised warning on a case, as the daily run stores one (a cause of its own)."""
    async with writing(engine) as conn:
        result = await conn.execute(
            insert(tables.warnings).values(
                case_id=made.case.id,
                borrower_id=made.borrower.id,
                rule=rule,
                rule_version="2026.1",
                cause=f"test:{uuid.uuid4().hex[:8]}:{next(_causes)}",
                severity=severity,
                status=status,
                reason="Raised by a test.",
                raised_at=datetime.now(UTC),
                assignee_id=made.case.assignee_id,
                agency_id=made.case.agency_id,
                version=1,
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


@dataclass
class WarningTarget(Target):
    """A case with a warning on it (its global ID)."""

    node: str | None = None


def warning_of(target: Target) -> str:
    assert isinstance(target, WarningTarget) and target.node is not None
    return target.node


async def on_world_case(cell: Cell) -> Target:
    """A new warning on the world case the cell aims at (inside or outside its scope)."""
    name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
    assert name is not None
    made = cell.world.cases[name]
    pk = await insert_warning(cell.engine, made)
    return WarningTarget(case=made, node=global_id("Warning", pk))


async def on_fresh_case(cell: Cell) -> Target:
    """A new open case within the caller's reach, with a warning on it."""
    role = cell.role
    if role.agency:
        made = await cell.world.factory.case(agency=role.agency)
    else:
        assignee = "collector1" if role.cases in ("own", "team") else None
        made = await cell.world.factory.case(assignee=assignee)
    pk = await insert_warning(cell.engine, made)
    return WarningTarget(case=made, node=global_id("Warning", pk))


async def warning_state(cell: Cell) -> tuple[Any, ...]:
    """What a refused step leaves alone: the warning's row and its case's events."""
    pk = int(base64.b64decode(warning_of(cell.target)).decode().split(":")[1])
    ev = tables.case_events.c
    async with cell.engine.connect() as conn:
        row = (await conn.execute(select(tables.warnings).where(w.id == pk))).one()
        stmt = select(ev.name).where(ev.case_id == row.case_id).order_by(ev.id)
        events = list((await conn.execute(stmt)).scalars())
    return tuple(row), tuple(events)


# ---- warnings and node(id:) ---------------------------------------------------------------------

WARNINGS = """
query($caseId: ID) {
  r: warnings(first: 100, filter: {caseId: $caseId}) {
    totalCount edges { node { id rule status case { id } } }
  }
}
"""


async def check_warnings(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    async with cell.engine.connect() as conn:
        stmt = select(w.id).where(w.case_id == made.case.id).order_by(w.id.desc())
        ids = list((await conn.execute(stmt)).scalars())
    assert global_id("Warning", ids[0]) == warning_of(cell.target)
    result, _ = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "totalCount": len(ids),
        "edges": [
            {
                "node": {
                    "id": global_id("Warning", pk),
                    "rule": "LARGE_OUTSTANDING",
                    "status": "RAISED",
                    "case": {"id": made.gid},
                }
            }
            for pk in ids
        ],
    }


NODE = """
query($id: ID!) { r: node(id: $id) { __typename id ... on Warning { rule case { id } } } }
"""


async def check_node(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "Warning",
        "id": warning_of(cell.target),
        "rule": "LARGE_OUTSTANDING",
        "case": {"id": cell.target.made.gid},
    }


# ---- acknowledgeWarning and handleWarning -------------------------------------------------------


def step(field_name: str, input_type: str) -> str:
    success = field_name[0].upper() + field_name[1:] + "Success"
    return f"""
mutation($input: {input_type}!) {{
  r: {field_name}(input: $input) {{
    {PAYLOAD} ... on {success} {{ warning {{ id status version note acknowledgedBy {{ login }}
      handledBy {{ login }} }} }}
  }}
}}
"""


def step_check(handle: bool) -> Any:
    async def check(op: Operation, cell: Cell) -> None:
        result, request_id = await cell.result(op.document, op.variables(cell.target))
        me = {"login": cell.login}
        assert result == {
            "__typename": "HandleWarningSuccess" if handle else "AcknowledgeWarningSuccess",
            "warning": {
                "id": warning_of(cell.target),
                "status": "HANDLED" if handle else "ACKNOWLEDGED",
                "version": 2,
                "note": "called the borrower" if handle else None,
                "acknowledgedBy": None if handle else me,
                "handledBy": me if handle else None,
            },
        }
        _, events = await warning_state(cell)
        assert events == (("WarningHandled",) if handle else ("WarningAcknowledged",))
        entries = await cell.entries(request_id)
        action = "warning.handle" if handle else "warning.acknowledge"
        assert [(x.action, x.outcome, x.resource_ids) for x in entries] == [
            (action, "ALLOWED", [warning_of(cell.target)])
        ]
        assert "called the borrower" not in str(entries[0]._mapping)  # the note is not audited

    return check


# ---- postExternalSignal -------------------------------------------------------------------------

POST = f"""
mutation($input: PostExternalSignalInput!) {{
  r: postExternalSignal(input: $input) {{
    {PAYLOAD}
    ... on PostExternalSignalSuccess {{
      externalSignal {{ kind severity }} warnings {{ rule severity status case {{ id }} }}
    }}
  }}
}}
"""
DETAILS = "bureau reports a new default at another lender"


def post_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": global_id("Borrower", target.made.borrower.id),
            "kind": "CREDIT_BUREAU_HIT",
            "severity": "HIGH",
            "details": DETAILS,
        }
    }


async def fresh_borrower_case(cell: Cell) -> Target:
    return Target(case=await cell.world.factory.case())


async def signal_state(cell: Cell) -> tuple[Any, ...]:
    made = cell.target.made
    g = tables.external_signals.c
    async with cell.engine.connect() as conn:
        signals = (await conn.execute(select(g.id).where(g.borrower_id == made.borrower.id))).all()
        warnings = (await conn.execute(select(w.id).where(w.case_id == made.case.id))).all()
    return tuple(signals), tuple(warnings)


async def check_post(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "PostExternalSignalSuccess",
        "externalSignal": {"kind": "CREDIT_BUREAU_HIT", "severity": "HIGH"},
        "warnings": [
            {
                "rule": "EXTERNAL_SIGNAL",
                "severity": "HIGH",
                "status": "RAISED",
                "case": {"id": made.gid},
            }
        ],
    }
    entries = await cell.entries(request_id)
    assert [(x.action, x.outcome, x.case_ids) for x in entries] == [
        ("signal.post", "ALLOWED", [made.case.id])
    ]
    assert DETAILS not in str(entries[0]._mapping)  # audited without the details


# ---- The declarations ---------------------------------------------------------------------------

WARNING_NOT_FOUND = ("NotFoundError", "WARNING_NOT_FOUND", "warningId")

WARNING_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="warnings",
        field="warnings",
        document=WARNINGS,
        variables=lambda target: {"caseId": target.made.gid},
        allowed=EVERY_ROLE,
        denied=None,
        check=check_warnings,
        scope="case",
        outside=Empty(),
        aim=on_world_case,
    ),
    Operation(
        name="nodeWarning",
        field="node",
        document=NODE,
        variables=lambda target: {"id": warning_of(target)},
        allowed=EVERY_ROLE,
        denied=None,
        check=check_node,
        scope="case",
        outside=Null(),
        aim=on_world_case,
    ),
    Operation(
        name="acknowledgeWarning",
        field="acknowledgeWarning",
        document=step("acknowledgeWarning", "AcknowledgeWarningInput"),
        variables=lambda target: {"input": {"warningId": warning_of(target)}},
        allowed=roles_holding("warning:handle"),
        permission="warning:handle",
        denied=Forbidden("warning:handle"),
        check=step_check(handle=False),
        scope="case",
        outside=Refused(*WARNING_NOT_FOUND, "warning.acknowledge"),
        fresh=on_fresh_case,
        aim=on_world_case,
        snapshot=warning_state,
    ),
    Operation(
        name="handleWarning",
        field="handleWarning",
        document=step("handleWarning", "HandleWarningInput"),
        variables=lambda target: {
            "input": {"warningId": warning_of(target), "note": "called the borrower"}
        },
        allowed=roles_holding("warning:handle"),
        permission="warning:handle",
        denied=Forbidden("warning:handle"),
        check=step_check(handle=True),
        scope="case",
        outside=Refused(*WARNING_NOT_FOUND, "warning.handle"),
        fresh=on_fresh_case,
        aim=on_world_case,
        snapshot=warning_state,
    ),
    Operation(
        name="postExternalSignal",
        field="postExternalSignal",
        document=POST,
        variables=post_variables,
        allowed=roles_holding("signal:post"),
        permission="signal:post",
        denied=Forbidden("signal:post"),
        check=check_post,
        # Only roles that see every case may post: no borrower lies outside their reach.
        fresh=fresh_borrower_case,
        snapshot=signal_state,
    ),
)
