"""Access-matrix declarations of legal escalation (tests/operations.py joins them to OPERATIONS):
referToLegal, approveLegalReferral, rejectLegalReferral and recordLegalAction.

Collectors, team leads and managers refer (``legal:refer``) cases they can see; legal staff do not
hold it (they see only LEGAL cases, which the life cycle never refers again). Only a manager
approves or rejects
(``legal:approve``); legal staff and managers record legal actions (``legal:act``) on LEGAL
cases. Outside the caller's scope a case is CASE_NOT_FOUND, exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from store import tables
from tests.factories import MadeCase, global_id, writing
from tests.legal_support import referable_case
from tests.matrix import (
    CASE_TARGETS,
    Cell,
    Forbidden,
    Operation,
    Refused,
    Target,
    roles_holding,
)

PAYLOAD = "__typename ... on UserError { code field }"
lr = tables.legal_referrals.c
REFER = f"""
mutation($input: ReferToLegalInput!) {{
  r: referToLegal(input: $input) {{
    {PAYLOAD} ... on ReferToLegalSuccess {{ referral {{ status referredBy {{ login }} }} }}
  }}
}}
"""
APPROVE = f"""
mutation($input: ApproveLegalReferralInput!) {{
  r: approveLegalReferral(input: $input) {{
    {PAYLOAD} ... on ApproveLegalReferralSuccess {{ referral {{ status }} case {{ id stage }} }}
  }}
}}
"""
REJECT = f"""
mutation($input: RejectLegalReferralInput!) {{
  r: rejectLegalReferral(input: $input) {{
    {PAYLOAD} ... on RejectLegalReferralSuccess {{ referral {{ status }} case {{ id stage }} }}
  }}
}}
"""
RECORD = f"""
mutation($input: RecordLegalActionInput!) {{
  r: recordLegalAction(input: $input) {{
    {PAYLOAD} ... on RecordLegalActionSuccess {{ legalAction {{ kind step }} case {{ id }} }}
  }}
}}
"""


@dataclass
class ReferralTarget(Target):
    """A case with a pending referral by collector1 (its global ID)."""

    referral: str | None = None


def referral_of(target: Target) -> str:
    assert isinstance(target, ReferralTarget) and target.referral is not None
    return target.referral


async def referable_in_reach(cell: Cell) -> Target:
    """A new case that meets every legal condition, within the caller's reach."""
    factory, role = cell.world.factory, cell.role
    assignee = "collector1" if role.cases in ("own", "team") else None
    return Target(case=await referable_case(factory, assignee=assignee))


async def _refer(cell: Cell, made: MadeCase) -> ReferralTarget:
    """The case's pending referral made by collector1 (stored as referToLegal stores one)."""
    async with writing(cell.engine) as conn:
        stmt = select(lr.id).where(lr.case_id == made.case.id, lr.status == "PENDING")
        pk = (await conn.execute(stmt)).scalar_one_or_none()
        if pk is None:
            inserted = await conn.execute(
                insert(tables.legal_referrals).values(
                    case_id=made.case.id,
                    status="PENDING",
                    reason="refused to pay",
                    conditions=[],
                    referred_by=cell.world.staff["collector1"].id,
                    referred_at=datetime.now(UTC),
                    version=1,
                )
            )
            assert inserted.inserted_primary_key is not None
            pk = inserted.inserted_primary_key[0]
    return ReferralTarget(case=made, referral=global_id("LegalReferral", int(pk)))


async def pending_referral(cell: Cell) -> Target:
    """A new case of collector1's that meets every legal condition, referred by collector1."""
    return await _refer(cell, await referable_case(cell.world.factory))


async def world_referral(cell: Cell) -> Target:
    """The world's case inside (or outside) the caller's scope, with a pending referral (one
    per case: refused calls leave it pending for the next cell)."""
    name = CASE_TARGETS[cell.login][0 if cell.inside is not False else 1]
    assert name is not None
    return await _refer(cell, cell.world.cases[name])


async def legal_case_in_reach(cell: Cell) -> Target:
    return Target(case=await cell.world.factory.case(stage="LEGAL", classification="SEVERE"))


async def referral_state(cell: Cell) -> tuple[Any, ...]:
    """What a refusal leaves alone: the case's row, referrals, actions and events."""
    made = cell.target.made
    ev, la = tables.case_events.c, tables.legal_actions.c
    async with cell.engine.connect() as conn:
        case = await conn.execute(select(tables.cases).where(tables.cases.c.id == made.case.id))
        referrals = await conn.execute(select(lr.id, lr.status).where(lr.case_id == made.case.id))
        actions = await conn.execute(select(la.id).where(la.case_id == made.case.id))
        events = await conn.execute(select(ev.name).where(ev.case_id == made.case.id))
        return (
            tuple(case.one()),
            tuple(referrals.all()),
            tuple(actions.all()),
            tuple(events.scalars()),
        )


async def _legal_entries(cell: Cell, request_id: str) -> list[tuple[str, str]]:
    return [
        (e.action, e.outcome)
        for e in await cell.entries(request_id)
        if e.action.startswith("legal.")
    ]


async def check_refer(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "ReferToLegalSuccess",
        "referral": {"status": "PENDING", "referredBy": {"login": cell.login}},
    }
    assert await _legal_entries(cell, request_id) == [("legal.refer", "ALLOWED")]


def check_decision(approve: bool) -> Any:
    async def check(op: Operation, cell: Cell) -> None:
        result, request_id = await cell.result(op.document, op.variables(cell.target))
        made = cell.target.made
        assert result == {
            "__typename": "ApproveLegalReferralSuccess"
            if approve
            else "RejectLegalReferralSuccess",
            "referral": {"status": "APPROVED" if approve else "REJECTED"},
            "case": {"id": made.gid, "stage": "LEGAL" if approve else "COLLECTION"},
        }
        action = "legal.approve" if approve else "legal.reject"
        assert await _legal_entries(cell, request_id) == [(action, "ALLOWED")]

    return check


async def check_record(op: Operation, cell: Cell) -> None:
    result, request_id = await cell.result(op.document, op.variables(cell.target))
    assert result == {
        "__typename": "RecordLegalActionSuccess",
        "legalAction": {"kind": "PAYMENT_ORDER", "step": "FILED"},
        "case": {"id": cell.target.made.gid},
    }
    assert await _legal_entries(cell, request_id) == [("legal.act", "ALLOWED")]


LEGAL_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        name="referToLegal",
        field="referToLegal",
        document=REFER,
        variables=lambda target: {"input": {"caseId": target.made.gid, "reason": "refused"}},
        allowed=roles_holding("legal:refer"),
        permission="legal:refer",
        denied=Forbidden("legal:refer"),
        check=check_refer,
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "legal.refer"),
        fresh=referable_in_reach,
        snapshot=referral_state,
    ),
    Operation(
        name="approveLegalReferral",
        field="approveLegalReferral",
        document=APPROVE,
        variables=lambda target: {"input": {"referralId": referral_of(target)}},
        allowed=roles_holding("legal:approve"),
        permission="legal:approve",
        denied=Forbidden("legal:approve"),
        check=check_decision(approve=True),
        scope="case",
        outside=Refused("NotFoundError", "REFERRAL_NOT_FOUND", "referralId", "legal.approve"),
        fresh=pending_referral,
        aim=world_referral,
        snapshot=referral_state,
    ),
    Operation(
        name="rejectLegalReferral",
        field="rejectLegalReferral",
        document=REJECT,
        variables=lambda target: {
            "input": {"referralId": referral_of(target), "reason": "not worth a lawsuit"}
        },
        allowed=roles_holding("legal:approve"),
        permission="legal:approve",
        denied=Forbidden("legal:approve"),
        check=check_decision(approve=False),
        scope="case",
        outside=Refused("NotFoundError", "REFERRAL_NOT_FOUND", "referralId", "legal.reject"),
        fresh=pending_referral,
        aim=world_referral,
        snapshot=referral_state,
    ),
    Operation(
        name="recordLegalAction",
        field="recordLegalAction",
        document=RECORD,
        variables=lambda target: {
            "input": {
                "caseId": target.made.gid,
                "kind": "PAYMENT_ORDER",
                "step": "FILED",
                "occurredOn": "2026-01-05",
            }
        },
        allowed=roles_holding("legal:act"),
        permission="legal:act",
        denied=Forbidden("legal:act"),
        check=check_record,
        scope="case",
        outside=Refused("NotFoundError", "CASE_NOT_FOUND", "caseId", "legal.act"),
        fresh=legal_case_in_reach,
        snapshot=referral_state,
    ),
)
