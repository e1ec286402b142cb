"""Access-matrix declarations of complaints and flags (tests/operations.py joins them to
OPERATIONS): fileComplaint, resolveComplaint, flagBorrower, unflagBorrower. Case.complaints,
Case.collectionClockDays and Borrower.flags are fields of types read wherever the case or the
borrower is (tests/e2e/test_complaints.py and tests/e2e/test_flags.py cover them).

Complaints are filed and flags set by those who work cases, legal and the integration account
(``complaint:file``, ``borrower:flag``); only a manager resolves a complaint or lifts a flag
(``complaint:resolve``, ``borrower:unflag``). Outside the caller's scope a case is
CASE_NOT_FOUND, a complaint COMPLAINT_NOT_FOUND and a borrower BORROWER_NOT_FOUND, exactly as
one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from store import tables
from tests.factories import global_id
from tests.matrix import (
    CASE_TARGETS,
    Cell,
    Forbidden,
    Operation,
    Refused,
    Target,
    roles_holding,
)
from tests.operations_contacts import case_in_reach

cm, bf = tables.complaints.c, tables.borrower_flags.c
PAYLOAD = "__typename ... on UserError { code field }"


@dataclass
class ComplaintTarget(Target):
    """A case with an open complaint (``complaint``)."""

    complaint: int | None = None


async def _complaint(cell: Cell, target: Target) -> ComplaintTarget:
    made = target.made
    row = await cell.world.factory._insert(
        tables.complaints,
        {
            "case_id": made.case.id,
            "borrower_id": made.borrower.id,
            "kind": "COMPLAINT",
            "channel": "PHONE",
            "written": False,
            "description": "matrix",
            "status": "OPEN",
            "filed_at": datetime.now(UTC),
            "version": 1,
        },
    )
    return ComplaintTarget(case=made, complaint=row.id)


async def fresh_complaint(cell: Cell) -> Target:
    return await _complaint(cell, await case_in_reach(cell))


async def world_complaint(cell: Cell) -> Target:
    name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
    assert name is not None
    return await _complaint(cell, Target(case=cell.world.cases[name]))


async def fresh_flagged(cell: Cell) -> Target:
    target = await case_in_reach(cell)
    await cell.world.factory._insert(
        tables.borrower_flags,
        {
            "borrower_id": target.made.borrower.id,
            "flag": "HARDSHIP",
            "set_at": datetime.now(UTC),
            "review_on": datetime(2099, 1, 1).date(),
        },
    )
    return target


async def complaints_of(cell: Cell) -> list[Any]:
    async with cell.engine.connect() as conn:
        stmt = select(tables.complaints).where(cm.case_id == cell.target.made.case.id)
        return list((await conn.execute(stmt.order_by(cm.id))).all())


async def flags_of(cell: Cell) -> list[Any]:
    async with cell.engine.connect() as conn:
        stmt = select(tables.borrower_flags).where(bf.borrower_id == cell.target.made.borrower.id)
        return list((await conn.execute(stmt.order_by(bf.id))).all())


FILE = f"""
mutation($input: FileComplaintInput!) {{
  r: fileComplaint(input: $input) {{
    {PAYLOAD} ... on FileComplaintSuccess {{ complaint {{ kind status }} case {{ id }} }}
  }}
}}
"""
RESOLVE = f"""
mutation($input: ResolveComplaintInput!) {{
  r: resolveComplaint(input: $input) {{
    {PAYLOAD} ... on ResolveComplaintSuccess {{ complaint {{ status resolution }} }}
  }}
}}
"""
FLAG = f"""
mutation($input: FlagBorrowerInput!) {{
  r: flagBorrower(input: $input) {{
    {PAYLOAD} ... on FlagBorrowerSuccess {{ borrowerFlag {{ flag setBy {{ login }} }} }}
  }}
}}
"""
UNFLAG = f"""
mutation($input: UnflagBorrowerInput!) {{
  r: unflagBorrower(input: $input) {{
    {PAYLOAD} ... on UnflagBorrowerSuccess {{
      borrowerFlag {{ flag }} borrower {{ flags {{ flag }} }}
    }}
  }}
}}
"""


def file_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "caseId": target.made.gid,
            "kind": "DISPUTE",
            "channel": "LETTER",
            "written": True,
            "description": "matrix dispute",
        }
    }


def resolve_variables(target: Target) -> dict[str, Any]:
    assert isinstance(target, ComplaintTarget) and target.complaint is not None
    return {
        "input": {
            "complaintId": global_id("Complaint", target.complaint),
            "resolution": "matrix resolution",
        }
    }


def flag_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": global_id("Borrower", target.made.borrower.id),
            "flag": "HARDSHIP",
            "reviewOn": "2099-01-01",
        }
    }


def unflag_variables(target: Target) -> dict[str, Any]:
    return {
        "input": {
            "borrowerId": global_id("Borrower", target.made.borrower.id),
            "flag": "HARDSHIP",
            "note": "matrix",
        }
    }


async def _entries(cell: Cell, request_id: str) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in await cell.entries(request_id)]


async def check_file(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    made = cell.target.made
    assert result == {
        "__typename": "FileComplaintSuccess",
        "complaint": {"kind": "DISPUTE", "status": "OPEN"},
        "case": {"id": made.gid},
    }
    [row] = await complaints_of(cell)
    assert (row.kind, row.status, row.filed_by) == (
        "DISPUTE", "OPEN", cell.world.staff[cell.login].id,
    )  # fmt: skip
    assert await _entries(cell, request_id) == [("complaint.file", "ALLOWED")]


async def check_resolve(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "ResolveComplaintSuccess",
        "complaint": {"status": "RESOLVED", "resolution": "matrix resolution"},
    }
    [row] = await complaints_of(cell)
    assert (row.status, row.resolved_by) == ("RESOLVED", cell.world.staff[cell.login].id)
    assert await _entries(cell, request_id) == [("complaint.resolve", "ALLOWED")]


async def check_flag(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "FlagBorrowerSuccess",
        "borrowerFlag": {"flag": "HARDSHIP", "setBy": {"login": cell.login}},
    }
    [row] = await flags_of(cell)
    assert (row.flag, row.lifted_at) == ("HARDSHIP", None)
    assert await _entries(cell, request_id) == [("borrower.flag", "ALLOWED")]


async def check_unflag(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "UnflagBorrowerSuccess",
        "borrowerFlag": {"flag": "HARDSHIP"},
        "borrower": {"flags": []},
    }
    [row] = await flags_of(cell)
    assert (row.lifted_by, row.lift_note) == (cell.world.staff[cell.login].id, "matrix")
    assert await _entries(cell, request_id) == [("borrower.unflag", "ALLOWED")]


PROTECTION_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="fileComplaint",
        field="fileComplaint",
        document=FILE,
        variables=file_variables,
        allowed=roles_holding("complaint:file"),
        permission="complaint:file",
        denied=Forbidden("complaint:file"),
        check=check_file,
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "complaint.file"),
        fresh=case_in_reach,
        snapshot=complaints_of,
    ),
    Operation(
        name="resolveComplaint",
        field="resolveComplaint",
        document=RESOLVE,
        variables=resolve_variables,
        allowed=roles_holding("complaint:resolve"),
        permission="complaint:resolve",
        denied=Forbidden("complaint:resolve"),
        check=check_resolve,
        scope="case",
        outside=Refused("NotFoundError", "COMPLAINT_NOT_FOUND", "complaintId", "complaint.resolve"),
        fresh=fresh_complaint,
        aim=world_complaint,
        snapshot=complaints_of,
    ),
    Operation(
        name="flagBorrower",
        field="flagBorrower",
        document=FLAG,
        variables=flag_variables,
        allowed=roles_holding("borrower:flag"),
        permission="borrower:flag",
        denied=Forbidden("borrower:flag"),
        check=check_flag,
        scope="case",
        outside=Refused("NotFoundError", "BORROWER_NOT_FOUND", "borrowerId", "borrower.flag"),
        fresh=case_in_reach,
        snapshot=flags_of,
    ),
    Operation(
        name="unflagBorrower",
        field="unflagBorrower",
        document=UNFLAG,
        variables=unflag_variables,
        allowed=roles_holding("borrower:unflag"),
        permission="borrower:unflag",
        denied=Forbidden("borrower:unflag"),
        check=check_unflag,
        scope="case",
        outside=Refused("NotFoundError", "BORROWER_NOT_FOUND", "borrowerId", "borrower.unflag"),
        fresh=fresh_flagged,
        snapshot=flags_of,
    ),
)
