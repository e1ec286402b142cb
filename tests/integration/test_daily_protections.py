"""The daily run and the protections: a case that an open complaint or dispute, or a flag that
forbids escalation, holds back never escalates, whatever its days past due; a control case at
the same boundary does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store import tables
from tests.daily_support import Made, case_row, events, make_case, run
from tests.factories import writing

D0 = date(2027, 6, 15)
FILED = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)


async def _complaint(engine: AsyncEngine, made: Made, kind: str = "COMPLAINT") -> None:
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.complaints).values(
                case_id=made.case_id,
                borrower_id=made.borrower_id,
                kind=kind,
                channel="PHONE",
                written=False,
                description="Says the calls come too often.",
                status="OPEN",
                filed_at=FILED,
                version=1,
            )
        )


async def _flag(engine: AsyncEngine, made: Made, flag: str, lifted: bool = False) -> None:
    async with writing(engine) as conn:
        await conn.execute(
            insert(tables.borrower_flags).values(
                borrower_id=made.borrower_id,
                flag=flag,
                set_at=FILED,
                review_on=D0 + timedelta(days=90),
                lifted_at=FILED + timedelta(days=1) if lifted else None,
            )
        )


async def test_held_cases_do_not_escalate_at_the_boundary(migrated: AsyncEngine) -> None:
    """On D0 each case is 30 days past due (EARLY stays); on D0 + 1 it is 31, past the
    escalation boundary: only the unprotected ones move to COLLECTION."""
    due = [D0 - timedelta(days=30)]
    control = await make_case(migrated, [due])
    complained = await make_case(migrated, [due])
    disputed = await make_case(migrated, [due])
    hardship = await make_case(migrated, [due])
    deceased = await make_case(migrated, [due])
    lifted = await make_case(migrated, [due])  # a lifted flag protects nothing
    letters = await make_case(migrated, [due])  # SERIOUS_ILLNESS: letters only, may escalate
    await _complaint(migrated, complained)
    await _complaint(migrated, disputed, "DISPUTE")
    await _flag(migrated, hardship, "HARDSHIP")
    await _flag(migrated, deceased, "DECEASED")
    await _flag(migrated, lifted, "HARDSHIP", lifted=True)
    await _flag(migrated, letters, "SERIOUS_ILLNESS")
    everyone = [control, complained, disputed, hardship, deceased, lifted, letters]

    first = await run(migrated, D0)
    assert first.days[0].escalated == 0
    for made in everyone:
        row = await case_row(migrated, made.case_id)
        assert (row.days_past_due, row.stage) == (30, "EARLY")

    second = await run(migrated, D0 + timedelta(days=1))
    assert second.days[0].escalated == 3
    stages = {}
    for made in everyone:
        row = await case_row(migrated, made.case_id)
        assert row.days_past_due == 31  # days past due run on under every protection
        stages[made.case_id] = row.stage
    assert stages == {
        control.case_id: "COLLECTION",
        complained.case_id: "EARLY",
        disputed.case_id: "EARLY",
        hardship.case_id: "EARLY",
        deceased.case_id: "EARLY",
        lifted.case_id: "COLLECTION",
        letters.case_id: "COLLECTION",
    }
    assert await events(migrated, hardship.case_id, "CaseTransitioned") == []
    assert await events(migrated, complained.case_id, "CaseTransitioned") == []
    assert len(await events(migrated, control.case_id, "CaseTransitioned")) == 1
