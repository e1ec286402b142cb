"""The purge's SQL (``jobs/purge.py`` runs it in one transaction): set-based statements that
replace personal data past retention by placeholders (``domain.retention.placeholders``).

A borrower is *retained-out* when they have a case, every case of theirs has been CLOSED since
before ``Cutoffs.closed_before``, none is on a legal hold in force, and none has records a
conduct profile's floor still keeps (nor, then, the people they were with). Their row (once: it
gets ``anonymised_at``), their contact points, flags' texts and signals, and the free text of their
cases are anonymised. Records of communication (contacts' notes and recording references,
notices' subject and body) of such a case go only once its last collection activity (closure,
contacts, payments, promises, notices) is older than its conduct profile's contact cutoff.

Every statement skips values that are empty or placeholders already, so a second purge changes
nothing and counts 0; a count is the number of rows a statement changed (or would change)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    exists,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.cases.model import CaseStatus
from domain.portfolios import PORTFOLIOS
from domain.retention.placeholders import NATIONAL_ID_PREFIX, PLACEHOLDER
from domain.retention.rules import CONTACT_FLOORS, Cutoffs
from store import tables

b, cs = tables.borrowers.c, tables.cases.c

# The borrower's texts replaced by the placeholder (income becomes 0, the national id a
# placeholder of its own; the time zone and the core's key stay: see docs/API.md).
BORROWER_TEXTS = ("full_name", "phone", "email", "address", "city", "district", "employer")
# Free text about a borrower or their cases, per table: (table, columns, keyed by).
_BORROWER_FREE_TEXT: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (tables.contact_points, ("value",)),
    (tables.borrower_flags, ("evidence_ref", "note", "lift_note")),
    (tables.external_signals, ("details",)),
)
_CASE_FREE_TEXT: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (tables.complaints, ("description", "resolution")),
    (tables.warnings, ("note",)),
    (tables.tasks, ("note",)),
    (tables.legal_referrals, ("reason", "decision_reason")),
    (tables.legal_actions, ("reference",)),
    (tables.restructurings, ("reason", "decision_reason")),
    (tables.payments, ("reversal_reason",)),
    (tables.write_offs, ("reason_text",)),
    (tables.legal_holds, ("reason",)),
)
_COMMUNICATION: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (tables.contacts, ("notes", "recording_ref")),
    (tables.notices, ("subject", "body")),
)
# Every record kind the purge counts, in the order it reports them.
KINDS: tuple[str, ...] = (
    "borrowers",
    *(t.name for t, _ in _BORROWER_FREE_TEXT),
    *(t.name for t, _ in _CASE_FREE_TEXT),
    "evidence_packs",
    *(t.name for t, _ in _COMMUNICATION),
)


def retained_out(borrower_id: ColumnElement[Any], cut: Cutoffs) -> ColumnElement[bool]:
    """Whether the borrower's retention has ended: a case, every case CLOSED before the cutoff,
    none on a legal hold in force, and none whose records a conduct profile's floor still keeps
    (a US_REG_F case's contact records stay three years after its last collection activity, or
    the lender's contact period if longer, and so does who they were with) — correlated to
    ``borrower_id``."""
    c2 = tables.cases.alias("retention_cases")
    held = tables.legal_holds.alias("retention_holds")
    any_case = exists(select(c2.c.id).where(c2.c.borrower_id == borrower_id))
    unfinished = exists(
        select(c2.c.id).where(
            c2.c.borrower_id == borrower_id,
            or_(
                c2.c.status != CaseStatus.CLOSED.value,
                c2.c.closed_at.is_(None),
                c2.c.closed_at >= cut.closed_before,
            ),
        )
    )
    on_hold = exists(
        select(held.c.id)
        .join(c2, c2.c.id == held.c.case_id)
        .where(c2.c.borrower_id == borrower_id, held.c.released_at.is_(None))
    )
    floored = [
        and_(c2.c.portfolio.in_(names), not_(_quiet_since(c2, cut.contact_cutoff(profile))))
        for profile, names in _floored_portfolios().items()
        if names
    ]
    kept_by_floor = (
        exists(select(c2.c.id).where(c2.c.borrower_id == borrower_id, or_(*floored)))
        if floored
        else literal(False)
    )
    return and_(any_case, not_(unfinished), not_(on_hold), not_(kept_by_floor))


def _floored_portfolios() -> dict[str, list[str]]:
    """The portfolios of each conduct profile with a floor on its contact records."""
    floored: dict[str, list[str]] = {profile: [] for profile in CONTACT_FLOORS}
    for name, portfolio in PORTFOLIOS.items():
        if portfolio.conduct_profile in floored:
            floored[portfolio.conduct_profile].append(name)
    return floored


def _cases_retained_out(cut: Cutoffs) -> Select[tuple[int]]:
    return select(cs.id).where(retained_out(cs.borrower_id, cut))


def _quiet_since(case_table: Table | Any, cutoff: datetime) -> ColumnElement[bool]:
    """No collection activity on the case (a row of ``case_table`` in the enclosing query) since
    ``cutoff``: closed before it, and no contact, payment, promise or notice at or after it."""
    activity: list[tuple[Table, str]] = [
        (tables.contacts, "at"),
        (tables.payments, "paid_at"),
        (tables.promises, "created_at"),
        (tables.notices, "created_at"),
    ]
    case_id = case_table.c.id
    recent = [
        exists(select(t.c.id).where(t.c.case_id == case_id, t.c[column] >= cutoff))
        for t, column in activity
    ]
    return and_(case_table.c.closed_at < cutoff, *(not_(r) for r in recent))


def _cases_past_contact_retention(cut: Cutoffs) -> Select[tuple[int]]:
    """The retained-out cases whose last collection activity is older than their profile's
    contact cutoff (a profile's floor is never shortened by the lender's period)."""
    floored = _floored_portfolios()
    every_floored = [name for names in floored.values() for name in names]
    branches = [
        and_(cs.portfolio.in_(names), _quiet_since(tables.cases, cut.contact_cutoff(profile)))
        for profile, names in floored.items()
        if names
    ]
    branches.append(
        and_(
            cs.portfolio.not_in(every_floored) if every_floored else literal(True),
            _quiet_since(tables.cases, cut.contact_before),
        )
    )
    return select(cs.id).where(retained_out(cs.borrower_id, cut), or_(*branches))


def _scrub(table: Table, columns: tuple[str, ...], where: ColumnElement[bool]) -> Any:
    """UPDATE replacing each non-empty value of ``columns`` that is not a placeholder yet."""
    cols = [table.c[name] for name in columns]

    def needs(col: Any) -> ColumnElement[bool]:
        return and_(col.is_not(None), col != "", col != PLACEHOLDER)

    values = {col.name: case((needs(col), literal(PLACEHOLDER)), else_=col) for col in cols}
    return update(table).where(where, or_(*(needs(col) for col in cols))).values(values)


async def purge(conn: AsyncConnection, cut: Cutoffs, now: datetime) -> Mapping[str, int]:
    """Anonymises everything past retention in the caller's transaction; returns the rows
    changed per record kind (``KINDS``)."""
    counts: dict[str, int] = {}
    # The cases in reach, locked in id order (PostgreSQL): placeLegalHold locks its case first,
    # so a hold either committed before (and every statement below sees it) or waits for us.
    await conn.execute(_cases_retained_out(cut).order_by(cs.id).with_for_update())
    anonymise = (
        update(tables.borrowers)
        .where(b.anonymised_at.is_(None), retained_out(b.id, cut))
        .values(
            {
                **{name: PLACEHOLDER for name in BORROWER_TEXTS},
                "national_id": literal(NATIONAL_ID_PREFIX) + cast(b.id, String),
                "income": Decimal("0"),
                "anonymised_at": now,
            }
        )
    )
    counts["borrowers"] = (await conn.execute(anonymise)).rowcount
    for table, columns in _BORROWER_FREE_TEXT:
        where = retained_out(table.c.borrower_id, cut)
        counts[table.name] = (await conn.execute(_scrub(table, columns, where))).rowcount
    for table, columns in _CASE_FREE_TEXT:
        where = table.c.case_id.in_(_cases_retained_out(cut))
        counts[table.name] = (await conn.execute(_scrub(table, columns, where))).rowcount
    packs = tables.evidence_packs
    dropped = delete(packs).where(packs.c.case_id.in_(_cases_retained_out(cut)))
    counts["evidence_packs"] = (await conn.execute(dropped)).rowcount
    for table, columns in _COMMUNICATION:
        where = table.c.case_id.in_(_cases_past_contact_retention(cut))
        counts[table.name] = (await conn.execute(_scrub(table, columns, where))).rowcount
    assert tuple(counts) == KINDS
    return counts
