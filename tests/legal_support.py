"""Shared pieces of the legal escalation tests (e2e and the access matrix): documents, and a
case shaped to meet every legal condition (or to miss one on purpose)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.factories import Factory, MadeCase, writing

PAYLOAD = "__typename ... on UserError { code message field }"
REFERRAL_FIELDS = """
  id status reason decisionReason referredAt decidedAt
  conditions { name passed detail } referredBy { login } decidedBy { login }
"""
REFER = f"""
mutation($input: ReferToLegalInput!) {{
  r: referToLegal(input: $input) {{
    {PAYLOAD}
    ... on ReferToLegalSuccess {{ referral {{ {REFERRAL_FIELDS} }} case {{ id stage }} }}
  }}
}}
"""
APPROVE = f"""
mutation($input: ApproveLegalReferralInput!) {{
  r: approveLegalReferral(input: $input) {{
    {PAYLOAD}
    ... on ApproveLegalReferralSuccess {{
      referral {{ {REFERRAL_FIELDS} }} case {{ id stage status assignee {{ login }} }}
    }}
  }}
}}
"""
REJECT = f"""
mutation($input: RejectLegalReferralInput!) {{
  r: rejectLegalReferral(input: $input) {{
    {PAYLOAD}
    ... on RejectLegalReferralSuccess {{ referral {{ {REFERRAL_FIELDS} }} case {{ id stage }} }}
  }}
}}
"""
ACTION_FIELDS = """
  id kind step body reference occurredOn amount { amount currency } recordedAt
  recordedBy { login }
"""
RECORD = f"""
mutation($input: RecordLegalActionInput!) {{
  r: recordLegalAction(input: $input) {{
    {PAYLOAD}
    ... on RecordLegalActionSuccess {{
      legalAction {{ {ACTION_FIELDS} }} case {{ id legalActions {{ step }} }}
    }}
  }}
}}
"""
_refs = itertools.count(1)


async def add_contact(
    engine: AsyncEngine,
    made: MadeCase,
    outcome: str,
    at: datetime,
    *,
    channel: str = "PHONE",
    party: str = "BORROWER",
) -> None:
    """A logged contact on the case (as logContact stores one)."""
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.contacts).values(
                case_id=made.case.id,
                borrower_id=made.borrower.id,
                at=at,
                channel=channel,
                direction="OUTBOUND",
                party=party,
                outcome=outcome,
                notes="",
                completed_at=at,
                source="LOGGED",
                blocked=False,
                breaches=[],
                consented=False,
            )
        )


async def add_payment(
    engine: AsyncEngine, made: MadeCase, paid_at: datetime, *, reversed: bool = False
) -> None:
    """A payment on the case's first debt (not reversed unless ``reversed``)."""
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.payments).values(
                case_id=made.case.id,
                debt_id=made.debts[0].id,
                amount=Decimal("100.00"),
                currency="CNY",
                paid_at=paid_at,
                reference=f"LEGAL-{uuid.uuid4().hex[:12]}-{next(_refs)}",
                source="FEED",
                created_at=paid_at,
                reversed=reversed,
                reversed_at=paid_at + timedelta(days=1) if reversed else None,
                reversal_reason="returned by the bank" if reversed else None,
                version=1,
            )
        )


async def add_broken_promise(engine: AsyncEngine, made: MadeCase, due: date) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.promises).values(
                case_id=made.case.id,
                amount=Decimal("500.00"),
                currency="CNY",
                promised_on=due - timedelta(days=5),
                due_date=due,
                grace_days=0,
                status="BROKEN",
                paid_amount=Decimal("0.00"),
                created_at=datetime.now(UTC) - timedelta(days=30),
                version=1,
            )
        )


async def add_flag(engine: AsyncEngine, made: MadeCase, flag: str) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.borrower_flags).values(
                borrower_id=made.borrower.id,
                flag=flag,
                evidence_ref="court ruling 2026-17",
                set_at=datetime.now(UTC) - timedelta(days=1),
            )
        )


async def set_case(engine: AsyncEngine, made: MadeCase, **values: Any) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            update(tables.cases).where(tables.cases.c.id == made.case.id).values(**values)
        )


def shanghai(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant at a local time of day in the demo portfolio (Asia/Shanghai, UTC+8): before
    08:00 its UTC date is the day before."""
    return datetime.combine(day, time(hour, minute), ZoneInfo("Asia/Shanghai")).astimezone(UTC)


async def set_oldest_due(engine: AsyncEngine, made: MadeCase, due: date) -> None:
    """Moves the first instalment of each debt (the oldest unpaid) to ``due``."""
    i = tables.instalments.c
    async with writing(engine) as conn:
        for debt in made.debts:
            await conn.execute(
                update(tables.instalments)
                .where(i.debt_id == debt.id, i.sequence == 1)
                .values(due_date=due)
            )


async def referable_case(factory: Factory, *, refused: bool = True, **shape: Any) -> MadeCase:
    """A case of collector1's that meets every legal condition: 120 days past due, about
    20,970 CNY owed, a refusal to pay two days ago (unless ``refused`` is False), a demand
    notice delivered yesterday."""
    made = await factory.case(
        **{"assignee": "collector1", "days_past_due": 120, "stage": "COLLECTION", **shape}
    )
    now = datetime.now(UTC)
    if refused:
        await add_contact(factory.engine, made, "REFUSED_TO_PAY", now - timedelta(days=2))
    await add_contact(
        factory.engine, made, "DELIVERED", now - timedelta(days=1), channel="LEGAL_NOTICE"
    )
    return made


def failed_names(error: dict[str, Any]) -> list[str]:
    """The condition names a LEGAL_CONDITIONS_NOT_MET message lists, in order."""
    message = error["message"]
    assert message.startswith("legal conditions not met: "), message
    body = message.removeprefix("legal conditions not met: ")
    return [part.split(":", 1)[0] for part in body.split("; ") if part.split(":", 1)[0].isupper()]
