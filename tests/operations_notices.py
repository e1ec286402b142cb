"""Access-matrix declarations of notices (tests/operations.py joins them to OPERATIONS):
``notices``, ``node`` for a Notice, and recordNoticeDelivery.

A notice is visible exactly when its case is (notice:read: every role): every role lists the
notices of the cases it can see and nothing of the others. Receipts come from the gateway (the
integration role) or a manager or admin (notice:record_delivery): roles that see every case, so
none lies outside their reach; every other role is FORBIDDEN and changes nothing.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from store import tables
from tests.factories import MadeCase, global_id
from tests.matrix import (
    CASE_TARGETS,
    Cell,
    Empty,
    Forbidden,
    Null,
    Operation,
    Refused,
    Target,
    roles_holding,
)
from tests.notices_support import insert_notice

PAYLOAD = "__typename ... on UserError { code field }"
n, nr, ev = tables.notices.c, tables.notice_receipts.c, tables.case_events.c


@dataclass
class NoticeTarget(Target):
    """A case with a notice on it (its global ID)."""

    node: str | None = None


def notice_of(target: Target) -> str:
    assert isinstance(target, NoticeTarget) and target.node is not None
    return target.node


def pk_of(gid: str) -> int:
    return int(base64.b64decode(gid).decode().split(":")[1])


async def _on(cell: Cell, made: MadeCase, status: str) -> NoticeTarget:
    pk = await insert_notice(cell.engine, made, None, status=status)
    return NoticeTarget(case=made, node=global_id("Notice", pk))


async def on_world_case(cell: Cell) -> Target:
    """A new SENT notice on the world case the cell aims at (inside or outside its scope)."""
    name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
    assert name is not None
    return await _on(cell, cell.world.cases[name], "SENT")


async def on_fresh_case(cell: Cell) -> Target:
    """A new case (every allowed role sees every case) with a SENT notice on it."""
    return await _on(cell, await cell.world.factory.case(), "SENT")


async def notice_state(cell: Cell) -> tuple[Any, ...]:
    """What a refused receipt leaves alone: the notice's row, its receipts, its case's events."""
    pk = pk_of(notice_of(cell.target))
    async with cell.engine.connect() as conn:
        row = (await conn.execute(select(tables.notices).where(n.id == pk))).one()
        kept = (await conn.execute(select(func.count()).where(nr.notice_id == pk))).scalar_one()
        stmt = select(ev.name).where(ev.case_id == row.case_id).order_by(ev.id)
        events = tuple((await conn.execute(stmt)).scalars())
    return tuple(row), kept, events


# ---- notices and node(id:) ----------------------------------------------------------------------

NOTICES = """
query($caseId: ID) {
  r: notices(first: 100, filter: {caseId: $caseId}) {
    totalCount edges { node { id channel template templateVersion status case { id } } }
  }
}
"""


async def check_notices(op: Operation, cell: Cell) -> None:
    made = cell.target.made
    async with cell.engine.connect() as conn:
        stmt = (
            select(n.id).where(n.case_id == made.case.id).order_by(n.created_at.desc(), n.id.desc())
        )
        ids = list((await conn.execute(stmt)).scalars())
    assert pk_of(notice_of(cell.target)) in ids
    result, _ = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "totalCount": len(ids),
        "edges": [
            {
                "node": {
                    "id": global_id("Notice", pk),
                    "channel": "SMS",
                    "template": "PAYMENT_REMINDER",
                    "templateVersion": "2026.1",
                    "status": "SENT",
                    "case": {"id": made.gid},
                }
            }
            for pk in ids
        ],
    }


NODE = """
query($id: ID!) { r: node(id: $id) { __typename id ... on Notice { status case { id } } } }
"""


async def check_node(op: Operation, cell: Cell) -> None:
    result, _ = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "Notice",
        "id": notice_of(cell.target),
        "status": "SENT",
        "case": {"id": cell.target.made.gid},
    }


# ---- recordNoticeDelivery -----------------------------------------------------------------------

RECORD = f"""
mutation($input: RecordNoticeDeliveryInput!) {{
  r: recordNoticeDelivery(input: $input) {{
    {PAYLOAD}
    ... on RecordNoticeDeliverySuccess {{ notice {{ id status providerRef case {{ id }} }} }}
  }}
}}
"""


def record_variables(target: Target) -> dict[str, Any]:
    return {"input": {"noticeId": notice_of(target), "status": "DELIVERED", "providerRef": "gw-1"}}


async def check_record(op: Operation, cell: Cell) -> None:
    gid = notice_of(cell.target)
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "RecordNoticeDeliverySuccess",
        "notice": {
            "id": gid,
            "status": "DELIVERED",
            "providerRef": "gw-1",
            "case": {"id": cell.target.made.gid},
        },
    }
    _, kept, events = await notice_state(cell)
    assert (kept, events) == (1, ("NoticeDelivered",))
    entries = await cell.entries(request_id)
    case_id = cell.target.made.case.id
    assert [(x.action, x.outcome, x.case_ids, x.changes) for x in entries] == [
        (
            "notice.delivery",
            "ALLOWED",
            [case_id],
            {"notice_id": pk_of(gid), "provider_ref": "gw-1"},
        )
    ]


# ---- The declarations ---------------------------------------------------------------------------

NOTICE_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="notices",
        field="notices",
        document=NOTICES,
        variables=lambda target: {"caseId": target.made.gid},
        allowed=roles_holding("notice:read"),
        permission="notice:read",
        denied=Forbidden("notice:read"),
        check=check_notices,
        scope="case",
        outside=Empty(),
        aim=on_world_case,
    ),
    Operation(
        name="nodeNotice",
        field="node",
        document=NODE,
        variables=lambda target: {"id": notice_of(target)},
        allowed=roles_holding("notice:read"),
        permission="notice:read",
        denied=Null(),
        check=check_node,
        scope="case",
        outside=Null(),
        aim=on_world_case,
    ),
    Operation(
        name="recordNoticeDelivery",
        field="recordNoticeDelivery",
        document=RECORD,
        variables=record_variables,
        allowed=roles_holding("notice:record_delivery"),
        permission="notice:record_delivery",
        denied=Forbidden("notice:record_delivery"),
        check=check_record,
        scope="case",
        outside=Refused("NotFoundError", "NOTICE_NOT_FOUND", "noticeId", "notice.delivery"),
        fresh=on_fresh_case,
        aim=on_world_case,
        snapshot=notice_state,
    ),
)
