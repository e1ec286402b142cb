"""Scorecards (manual ch. 8): per collector, team or agency and currency, what they recovered,
cured and closed, their contacts and right-party contacts, promises, complaints, refused attempts
and breaches, and the days their recoveries took; an agency's with its commission statement.

Whose figure is what: money recovered, recoveries, complaints and the cases at the opening are
the *owner's* — the collector (``assignee_id``) or agency of the case's snapshot on that day, as
the portfolio report keys them; contacts and promises are the work of whoever made them (their
own ``staff_id`` / ``agency_id``). A team's figures are its collectors' (their team today: the
staff table keeps no history of teams).

Seven statements whatever the number of cases, staff, agencies or days (payments, opening
balances, cases closed, recoveries, complaints, contacts, promises; five without an opening run),
and at the agency level two more, the commission statements and the agencies' contracts: each
figure joins ``cases`` and applies the caller's scope, so nothing the caller may not see is
counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    and_,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.arrangements.promises import PromiseStatus
from domain.cases.model import CaseStatus
from domain.contacts.model import VOICE_CHANNELS, ContactChannel
from domain.legal.conditions import RIGHT_PARTY_OUTCOMES
from domain.money import Money
from domain.reports.model import CommissionStatement, Ratio, Scorecard, ScorecardLevel
from store import report_flows, report_outcomes, tables
from store.report_basis import (
    Observations,
    analysed,
    in_collection,
    in_period,
    not_reversed_by,
    on_day,
    on_run,
    run_days,
    time_zone_sql,
    total,
)

c = tables.cases.c
p = tables.payments.c
ct = tables.contacts.c
pr = tables.promises.c
cp = tables.complaints.c

# A right-party contact is measured over the attempts in which someone could answer: calls and
# field visits that have an outcome (a letter, an SMS or an e-mail is delivered, not answered).
ANSWERABLE_CHANNELS = tuple(sorted({*VOICE_CHANNELS, ContactChannel.FIELD_VISIT}))
RIGHT_PARTY = tuple(sorted(RIGHT_PARTY_OUTCOMES))
# A promise is judged once it is kept, partly kept or broken (superseded and cancelled ones
# never came due): the portfolio report's promise kept rate, per person.
JUDGED_PROMISES = tuple(
    s.value for s in (PromiseStatus.KEPT, PromiseStatus.PARTIALLY_KEPT, PromiseStatus.BROKEN)
)
# The average days to recovery is shown to one decimal.
DAY_PLACES = Decimal("0.1")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class ScorecardRows:
    """Whose scorecards a caller may see (None: anyone's): a collector their own, a team lead
    their team's, an agency user their agency's."""

    staff_id: int | None = None
    team: str | None = None
    agency_id: int | None = None


# ---- whose row a figure falls in ----------------------------------------------------------------

# The owner of a row, joined once per statement under names of their own, so that a scope clause's
# subqueries over ``staff`` or ``agencies`` are never correlated with it.
_owner_staff = tables.staff.alias("owner_staff")
_owner_agency = tables.agencies.alias("owner_agency")


@dataclass(frozen=True, slots=True)
class _Level:
    """A scorecard level: who owns a figure (a staff member, or an agency), the row's key (a
    login, a team, an agency's name) and which rows the caller may see."""

    level: ScorecardLevel
    visible: ColumnElement[bool]

    def owner(self, staff_id: Any, agency_id: Any) -> Any:
        """The column naming a figure's owner: the agency at the agency level, else the staff
        member (a team's rows are its members')."""
        return agency_id if self.level is ScorecardLevel.AGENCY else staff_id

    def owner_of(self, snapshot: FromClause) -> Any:
        """Who owns what happened to a debt or case on a snapshot's day."""
        return self.owner(snapshot.c.assignee_id, snapshot.c.agency_id)

    def rows(
        self,
        source: FromClause,
        owner_id: Any,
        currency: Any,
        *figures: Any,
        where: Iterable[ColumnElement[bool]] = (),
    ) -> Select[Any]:
        """Per key and currency: ``figures`` over ``source``, whose rows ``owner_id`` owns (a row
        without an owner, or a team-less collector at the team level, falls in none)."""
        if self.level is ScorecardLevel.AGENCY:
            owned = source.join(_owner_agency, _owner_agency.c.id == owner_id)
            key = _owner_agency.c.name
        else:
            owned = source.join(_owner_staff, _owner_staff.c.id == owner_id)
            login = self.level is ScorecardLevel.COLLECTOR
            key = _owner_staff.c.login if login else _owner_staff.c.team
        return (
            select(key.label("key"), currency.label("currency"), *figures)
            .select_from(owned)
            .where(key.is_not(None), self.visible, *where)
            .group_by(key, currency)
        )


def _visible(level: ScorecardLevel, rows: ScorecardRows) -> ColumnElement[bool] | None:
    """Which rows of ``level`` the restriction lets through (None: none at all). A collector's
    own row is theirs only; a team's rows are its collectors' and its own; an agency's rows are
    its staff's and its own."""
    if level is ScorecardLevel.COLLECTOR:
        s = _owner_staff.c
        clauses = [
            *([s.id == rows.staff_id] if rows.staff_id is not None else []),
            *([s.team == rows.team] if rows.team is not None else []),
            *([s.agency_id == rows.agency_id] if rows.agency_id is not None else []),
        ]
        return and_(*clauses) if clauses else true()
    if level is ScorecardLevel.TEAM:
        if rows.staff_id is not None or rows.agency_id is not None:
            return None
        return _owner_staff.c.team == rows.team if rows.team is not None else true()
    if rows.staff_id is not None or rows.team is not None:
        return None
    return _owner_agency.c.id == rows.agency_id if rows.agency_id is not None else true()


# ---- the statements -----------------------------------------------------------------------------


def _tally(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, 1)))


def _recovered(
    observations: Observations, level: _Level, scope: ColumnElement[bool]
) -> Select[Any]:
    """Per key and currency (the payment's): the payments counted in the period — on one of its
    local days, not reversed by its end — each owned by its debt's snapshot on that day."""
    zone = time_zone_sql(c.portfolio)
    days = run_days(observations)
    source = tables.payments.join(tables.cases, c.id == p.case_id).join(
        days, on_day(days, zone, p.paid_at)
    )
    return level.rows(
        source,
        on_run(level.owner_of, days.c.run_as_of, debt_id=p.debt_id),
        p.currency,
        total(p.amount),
        where=(
            scope,
            in_period(observations, zone, p.paid_at),
            not_reversed_by(tables.payments, zone, observations.period.end),
        ),
    )


def _delinquent_at_opening(
    observations: Observations, level: _Level, scope: ColumnElement[bool]
) -> Select[Any]:
    """Per key and currency: the balance of the debts delinquent (in collection, a day or more
    past due) at the opening run, owned then — what the recovery rate is measured against."""
    snap = tables.debt_snapshots.alias("snapshot")
    s = snap.c
    return level.rows(
        snap.join(tables.cases, c.id == s.case_id),
        level.owner(s.assignee_id, s.agency_id),
        s.currency,
        total(s.balance),
        where=(
            s.as_of == observations.opening,
            in_collection(snap),
            s.days_past_due >= 1,
            scope,
        ),
    )


def _closed(observations: Observations, level: _Level, scope: ColumnElement[bool]) -> Select[Any]:
    """Per key and currency (the case's): the cases in collection at the opening, owned then,
    that are CLOSED at the closing run or have no snapshot there."""
    opening = tables.debt_snapshots.alias("opening")
    o = opening.c
    owned = (
        select(o.case_id, func.min(level.owner(o.assignee_id, o.agency_id)).label("owner_id"))
        .where(o.as_of == observations.opening, in_collection(opening))
        .group_by(o.case_id)
        .subquery("opened")
    )
    closing = tables.debt_snapshots.alias("closing")
    k = closing.c
    ended = (
        select(
            k.case_id,
            func.max(case((k.case_status == CaseStatus.CLOSED.value, 1), else_=0)).label("closed"),
        )
        .where(k.as_of == observations.closing)
        .group_by(k.case_id)
        .subquery("ended")
    )
    at_closing, closed = ended.c.case_id, ended.c.closed
    source = owned.join(tables.cases, c.id == owned.c.case_id).outerjoin(
        ended, at_closing == owned.c.case_id
    )
    return level.rows(
        source,
        owned.c.owner_id,
        c.currency,
        func.count(),
        where=(scope, or_(at_closing.is_(None), closed == 1)),
    )


def _cured(
    conn: AsyncConnection, observations: Observations, level: _Level, scope: ColumnElement[bool]
) -> Select[Any]:
    """Per key and currency (the case's): the recoveries of the period and the days they took,
    each owned by its case's snapshot on the day it recovered."""
    recovered = report_outcomes.recoveries(conn, observations).subquery("recovered")
    r = recovered.c
    run_of = run_days(observations)
    owned = (
        select(r.days, c.currency, on_run(level.owner_of, run_of.c.run_as_of, case_id=r.case_id))
        .select_from(
            recovered.join(tables.cases, c.id == r.case_id).join(
                run_of, run_of.c.day == r.recovered_on
            )
        )
        .where(scope)
        .subquery("cured")
    )
    days, currency, owner_id = owned.c
    return level.rows(owned, owner_id, currency, func.count(), func.sum(days))


def _complaints(
    observations: Observations, level: _Level, scope: ColumnElement[bool]
) -> Select[Any]:
    """Per key and currency (the case's): the complaints filed in the period, each owned by its
    case's snapshot on the filing day."""
    days = run_days(observations)
    zone = time_zone_sql(c.portfolio)
    owned = (
        select(c.currency, on_run(level.owner_of, days.c.run_as_of, case_id=cp.case_id))
        .select_from(
            tables.complaints.join(tables.cases, c.id == cp.case_id).join(
                days, on_day(days, zone, cp.filed_at)
            )
        )
        .where(in_period(observations, zone, cp.filed_at), scope)
        .subquery("filed")
    )
    currency, owner_id = owned.c
    return level.rows(owned, owner_id, currency, func.count())


def _contacts(observations: Observations, level: _Level, scope: ColumnElement[bool]) -> Select[Any]:
    """Per key and currency (the case's), of the contacts made in the period by the key's
    people: contacts (not blocked), right-party contacts and the attempts they are measured over,
    refused attempts (blocked) and contacts with a breach."""
    source = tables.contacts.join(tables.cases, c.id == ct.case_id)
    made = ct.blocked.is_(False)
    answerable = and_(made, ct.outcome.is_not(None), ct.channel.in_(ANSWERABLE_CHANNELS))
    return level.rows(
        source,
        level.owner(ct.staff_id, ct.agency_id),
        c.currency,
        _tally(made),
        _tally(and_(answerable, ct.outcome.in_(RIGHT_PARTY))),
        _tally(answerable),
        _tally(ct.blocked.is_(True)),
        _tally(func.json_array_length(ct.breaches) > 0),
        where=(scope, in_period(observations, time_zone_sql(c.portfolio), ct.at)),
    )


def _promises(observations: Observations, level: _Level, scope: ColumnElement[bool]) -> Select[Any]:
    """Per key and currency (the promise's), of the promises the key's people took: those made
    in the period, and those judged in it (resolved kept, partly kept or broken) and kept."""
    zone = time_zone_sql(c.portfolio)
    made = in_period(observations, zone, pr.created_at)
    judged = and_(in_period(observations, zone, pr.resolved_at), pr.status.in_(JUDGED_PROMISES))
    source = tables.promises.join(tables.cases, c.id == pr.case_id)
    return level.rows(
        source,
        level.owner(pr.staff_id, pr.agency_id),
        pr.currency,
        _tally(made),
        _tally(and_(judged, pr.status == PromiseStatus.KEPT.value)),
        _tally(judged),
        where=(scope, or_(made, judged)),
    )


# ---- the scorecards -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Figures:
    """One row's figures as the statements find them (absent: zero)."""

    recovered: Decimal = ZERO
    delinquent: Decimal = ZERO
    closed: int = 0
    cured: int = 0
    days: int = 0
    complaints: int = 0
    contacts: int = 0
    right_party: int = 0
    answerable: int = 0
    refused: int = 0
    breaches: int = 0
    promises_made: int = 0
    kept: int = 0
    judged: int = 0
    commission: CommissionStatement | None = None


def _average_days(days: int, recoveries: int) -> Decimal | None:
    if not recoveries:
        return None
    return (Decimal(days) / recoveries).quantize(DAY_PLACES, rounding=ROUND_HALF_EVEN)


def _scorecard(key: str, currency: str, f: _Figures) -> Scorecard:
    return Scorecard(
        key=key,
        currency=currency,
        recovered=Money(f.recovered, currency),
        recovery_rate=Ratio(f.recovered, f.delinquent),
        cases_cured=f.cured,
        cases_closed=f.closed,
        contacts=f.contacts,
        right_party_contact_rate=Ratio(Decimal(f.right_party), Decimal(f.answerable)),
        promises_made=f.promises_made,
        promise_kept_rate=Ratio(Decimal(f.kept), Decimal(f.judged)),
        complaints=f.complaints,
        refused_attempts=f.refused,
        breaches=f.breaches,
        average_days_to_recovery=_average_days(f.days, f.cured),
        commission=f.commission,
    )


async def _commissions(
    conn: AsyncConnection,
    observations: Observations,
    scope: ColumnElement[bool],
    rows: ScorecardRows,
    keys: Iterable[tuple[str, str]],
) -> dict[tuple[str, str], CommissionStatement]:
    """The commission statements of the agencies the caller may see, by agency name and
    currency: every one that earned in the period, and for every other agency row in ``keys``
    a statement of nothing under its contract (two statements: the statements, the
    contracts)."""
    agency_ids = None if rows.agency_id is None else [rows.agency_id]
    statements = await report_flows.commission_statements(conn, observations, scope, agency_ids)
    a = tables.agencies.c
    contracts = select(a.id, a.name, a.commission_rate, a.tail_days)
    if rows.agency_id is not None:
        contracts = contracts.where(a.id == rows.agency_id)
    found = {row.id: row for row in (await conn.execute(contracts)).all()}
    earned = {
        (found[agency_id].name, currency): statement
        for (agency_id, currency), statement in statements.items()
    }
    named = {row.name: row for row in found.values()}
    nothing = {
        (name, currency): CommissionStatement(
            rate=named[name].commission_rate,
            tail_days=named[name].tail_days,
            collected=Money(ZERO, currency),
            tail_collected=Money(ZERO, currency),
            commission=Money(ZERO, currency),
            payments=0,
        )
        for name, currency in keys
        if (name, currency) not in earned
    }
    return {**nothing, **earned}


@analysed
async def scorecards(
    conn: AsyncConnection,
    observations: Observations,
    level: ScorecardLevel,
    scope: ColumnElement[bool],
    rows: ScorecardRows,
) -> list[Scorecard]:
    """Returns the scorecards of ``level`` over the period (one per key and currency, sorted by
    both) that ``rows`` lets the caller see, each counting only the cases ``scope`` (a clause
    over ``cases``) lets them see; at the agency level with each agency's commission
    statement."""
    visible = _visible(level, rows)
    if visible is None:
        return []
    by = _Level(level, visible)
    figures: dict[tuple[str, str], _Figures] = {}

    def of(key: str, currency: str) -> _Figures:
        return figures.setdefault((key, currency), _Figures())

    async def each(stmt: Select[Any]) -> list[Any]:
        return list((await conn.execute(stmt)).all())

    for key, currency, amount in await each(_recovered(observations, by, scope)):
        of(key, currency).recovered = amount
    if observations.opening is not None:
        for key, currency, amount in await each(_delinquent_at_opening(observations, by, scope)):
            of(key, currency).delinquent = amount
        for key, currency, n in await each(_closed(observations, by, scope)):
            of(key, currency).closed = n
    for key, currency, n, days in await each(_cured(conn, observations, by, scope)):
        f = of(key, currency)
        f.cured, f.days = n, int(days)
    for key, currency, n in await each(_complaints(observations, by, scope)):
        of(key, currency).complaints = n
    for key, currency, *counts in await each(_contacts(observations, by, scope)):
        f = of(key, currency)
        f.contacts, f.right_party, f.answerable, f.refused, f.breaches = counts
    for key, currency, made, kept, judged in await each(_promises(observations, by, scope)):
        f = of(key, currency)
        f.promises_made, f.kept, f.judged = made, kept, judged
    if level is ScorecardLevel.AGENCY:
        statements = await _commissions(conn, observations, scope, rows, list(figures))
        for (key, currency), statement in statements.items():
            of(key, currency).commission = statement
    return [_scorecard(key, currency, figures[key, currency]) for key, currency in sorted(figures)]
