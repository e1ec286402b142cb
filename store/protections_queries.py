"""Read side of complaints and flags: the protections in force on many cases at once, the
complaints of many cases, the active flags of many borrowers, the pauses of the collection
clock, and SQL clauses for work over many rows.

Clauses for jobs and set-based work (each a correlated condition on ``tables.cases``, built
from the effects table ``domain.flags.effects``, never from a list written here):

- ``protected_clause(*effects)``: the case has an open complaint or dispute, or its borrower an
  active flag, whose row has one of ``effects`` (e.g. ``Effect.STOP_CONTACT``).
- ``refused_clause(action, *also)``: the protections forbid ``action`` on the case
  (``Action.PLACE``, ``Action.ESCALATE``, ``Action.ALLOCATE``), the SQL twin of
  ``Standing.forbidden``; the daily run adds ``Effect.PAUSE_CLOCK`` (escalation timers skip a
  case whose collection clock stands still; days past due never do).
- ``protection_rule(*effects)``: the name of the first such rule in force on the case (the
  treatment step records it on what it suppressed or refused).

Every reader of many keys answers with a fixed number of statements per batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, false, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.complaints.model import (
    Complaint,
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
)
from domain.flags.effects import (
    COMPLAINT_RULES,
    FLAG_RULES,
    Effect,
    Protection,
    action_effects,
    complaint_kinds_with,
    flags_with,
    protection_of,
)
from domain.flags.model import BorrowerFlag, BorrowerFlagKind
from domain.lifecycle.table import Action
from store import tables

cs, cm, bf = tables.cases.c, tables.complaints.c, tables.borrower_flags.c

OPEN = ComplaintStatus.OPEN.value


# ---- clauses ----------------------------------------------------------------------------------


def protected_clause(*effects: Effect) -> ColumnElement[bool]:
    """The case (``tables.cases``) is under a protection with any of ``effects``: one EXISTS
    on its complaints and one on its borrower's flags, whatever the number of effects."""
    kinds = sorted({k.value for e in effects for k in complaint_kinds_with(e)})
    flags = sorted({f.value for e in effects for f in flags_with(e)})
    found: list[ColumnElement[bool]] = []
    if kinds:
        found.append(exists().where(cm.case_id == cs.id, cm.status == OPEN, cm.kind.in_(kinds)))
    if flags:
        found.append(
            exists().where(
                bf.borrower_id == cs.borrower_id, bf.lifted_at.is_(None), bf.flag.in_(flags)
            )
        )
    return or_(*found) if found else false()


def refused_clause(action: Action, *also: Effect) -> ColumnElement[bool]:
    """The protections in force on the case forbid ``action`` (or have one of ``also``)."""
    return protected_clause(*action_effects(action), *also)


def protection_rule(*effects: Effect) -> ColumnElement[Any]:
    """The name of the first protection rule in the table's order (complaints, then flags) in
    force on the case with any of ``effects`` (NULL: none): what a batch job records as the rule
    that stopped its work. One EXISTS per row of the table that has such an effect."""
    wanted = set(effects)
    whens: list[tuple[ColumnElement[bool], str]] = [
        (
            exists().where(cm.case_id == cs.id, cm.status == OPEN, cm.kind == kind.value),
            row.rule,
        )
        for kind, row in COMPLAINT_RULES.items()
        if row.effects & wanted
    ]
    whens += [
        (
            exists().where(
                bf.borrower_id == cs.borrower_id, bf.lifted_at.is_(None), bf.flag == kind.value
            ),
            row.rule,
        )
        for kind, row in FLAG_RULES.items()
        if row.effects & wanted
    ]
    return case(*whens, else_=null()) if whens else null()


# ---- protections ------------------------------------------------------------------------------


def _scoped(stmt: Select[Any], scope: ColumnElement[bool] | None) -> Select[Any]:
    return stmt if scope is None else stmt.where(scope)


async def protections_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[Protection]:
    """Returns the protection in force on each case (two statements per batch; a case out of
    ``scope``, over ``cases``, has none)."""
    complaints = _scoped(
        select(cm.case_id, cm.kind)
        .join(tables.cases, cs.id == cm.case_id)
        .where(cm.case_id.in_(case_ids), cm.status == OPEN),
        scope,
    )
    flags = _scoped(
        select(cs.id, bf.flag)
        .join(tables.borrower_flags, bf.borrower_id == cs.borrower_id)
        .where(cs.id.in_(case_ids), bf.lifted_at.is_(None)),
        scope,
    )
    kinds: dict[int, list[str]] = defaultdict(list)
    for case_id, kind in (await session.execute(complaints)).all():
        kinds[case_id].append(kind)
    flagged: dict[int, list[str]] = defaultdict(list)
    for case_id, flag in (await session.execute(flags)).all():
        flagged[case_id].append(flag)
    return [protection_of(kinds.get(i, []), flagged.get(i, [])) for i in case_ids]


class SqlProtectionReader:
    """The unit of work's reader of one case's protections (no scope: the case was loaded
    through the caller's scope already)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_case(self, case_id: int, borrower_id: int) -> Protection:
        """Locks the borrower's row until commit before reading (PostgreSQL ``FOR UPDATE``;
        SQLite serialises writers already): flag work takes the same lock, so work judged on
        this standing (a placement, a contact) and a new flag on the borrower never overlap —
        one waits for the other and sees it."""
        b = tables.borrowers.c
        await self.session.execute(select(b.id).where(b.id == borrower_id).with_for_update())
        return (await protections_by_case_id(self.session, [case_id]))[0]


# ---- complaints and flags ---------------------------------------------------------------------


def complaint_of(row: object) -> Complaint:
    """Returns the complaint of a ``complaints`` row."""
    r = row._mapping  # type: ignore[attr-defined]
    return Complaint(
        id=r["id"],
        case_id=r["case_id"],
        borrower_id=r["borrower_id"],
        kind=ComplaintKind(r["kind"]),
        channel=ComplaintChannel(r["channel"]),
        written=bool(r["written"]),
        description=r["description"],
        status=ComplaintStatus(r["status"]),
        filed_at=r["filed_at"],
        filed_by=r["filed_by"],
        resolved_at=r["resolved_at"],
        resolved_by=r["resolved_by"],
        resolution=r["resolution"],
        version=r["version"],
    )


def flag_of(row: object) -> BorrowerFlag:
    """Returns the flag of a ``borrower_flags`` row."""
    r = row._mapping  # type: ignore[attr-defined]
    return BorrowerFlag(
        id=r["id"],
        borrower_id=r["borrower_id"],
        flag=BorrowerFlagKind(r["flag"]),
        evidence_ref=r["evidence_ref"],
        note=r["note"],
        set_by=r["set_by"],
        set_at=r["set_at"],
        review_on=r["review_on"],
        lifted_at=r["lifted_at"],
        lifted_by=r["lifted_by"],
        lift_note=r["lift_note"],
    )


async def complaints_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[Complaint]]:
    """Returns each case's complaints, newest first (one statement per batch)."""
    stmt = (
        select(tables.complaints)
        .join(tables.cases, cs.id == cm.case_id)
        .where(cm.case_id.in_(case_ids))
        .order_by(cm.filed_at.desc(), cm.id.desc())
    )
    stmt = _scoped(stmt, scope)
    grouped: dict[int, list[Complaint]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row.case_id].append(complaint_of(row))
    return [grouped.get(i, []) for i in case_ids]


async def complaints_by_id(
    session: AsyncSession, ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[tuple[Complaint, str] | None]:
    """Returns each complaint with its case's portfolio, if the scope lets its case through."""
    stmt = (
        select(tables.complaints, cs.portfolio.label("case_portfolio"))
        .join(tables.cases, cs.id == cm.case_id)
        .where(cm.id.in_(ids))
    )
    stmt = _scoped(stmt, scope)
    found = {
        row.id: (complaint_of(row), str(row.case_portfolio))
        for row in (await session.execute(stmt)).all()
    }
    return [found.get(i) for i in ids]


async def active_flags_by_borrower_id(
    session: AsyncSession, borrower_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[BorrowerFlag]]:
    """Returns each borrower's active flags, oldest first (``scope``: over ``borrowers``)."""
    stmt = select(tables.borrower_flags).where(
        bf.borrower_id.in_(borrower_ids), bf.lifted_at.is_(None)
    )
    if scope is not None:
        stmt = stmt.join(tables.borrowers, tables.borrowers.c.id == bf.borrower_id).where(scope)
    grouped: dict[int, list[BorrowerFlag]] = defaultdict(list)
    for row in (await session.execute(stmt.order_by(bf.set_at, bf.id))).all():
        grouped[row.borrower_id].append(flag_of(row))
    return [grouped.get(i, []) for i in borrower_ids]


# ---- the collection clock ---------------------------------------------------------------------

Span = tuple[datetime, datetime | None]


async def clock_pauses_by_case_id(
    session: AsyncSession, case_ids: Sequence[int], scope: ColumnElement[bool] | None = None
) -> list[list[Span]]:
    """Returns each case's pauses of the collection clock as (from, until or None) instants:
    every complaint or dispute of the case (open or resolved), and every flag of its borrower
    that pauses the clock (active or lifted). Two statements per batch."""
    kinds = sorted(k.value for k in complaint_kinds_with(Effect.PAUSE_CLOCK))
    flags = sorted(f.value for f in flags_with(Effect.PAUSE_CLOCK))
    complaints = (
        select(cm.case_id, cm.filed_at, cm.resolved_at)
        .join(tables.cases, cs.id == cm.case_id)
        .where(cm.case_id.in_(case_ids), cm.kind.in_(kinds))
    )
    flagged = (
        select(cs.id, bf.set_at, bf.lifted_at)
        .join(tables.borrower_flags, bf.borrower_id == cs.borrower_id)
        .where(cs.id.in_(case_ids), bf.flag.in_(flags))
    )
    if scope is not None:
        complaints, flagged = complaints.where(scope), flagged.where(scope)
    spans: dict[int, list[Span]] = defaultdict(list)
    for statement in (complaints, flagged):
        for case_id, start, end in (await session.execute(statement)).all():
            spans[case_id].append((start, end))
    return [spans.get(i, []) for i in case_ids]


__all__ = [
    "SqlProtectionReader",
    "active_flags_by_borrower_id",
    "clock_pauses_by_case_id",
    "complaints_by_case_id",
    "protected_clause",
    "protection_rule",
    "protections_by_case_id",
    "refused_clause",
]
