"""Row scopes compiled into SQL: what each role may see, as WHERE clauses (never a Python filter).

A viewer sees the union of what their roles see. A role not listed here sees nothing. Agency
roles see only through an active agency, and cases only while their placement is current, so
scopes depend on the instant of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true

from domain.cases.model import CaseStage
from domain.legal.model import ReferralStatus
from domain.reports.model import ScorecardLevel
from domain.staff.model import AGENCY_ROLES, Role, Staff
from store import tables
from store.case_queries import current_placement_clause
from store.scorecard_queries import ScorecardRows

# Roles that see every case; every role that is not an agency role is internal.
_ALL_CASES = frozenset({Role.ADMIN, Role.MANAGER, Role.AUDITOR, Role.INTEGRATION})
_INTERNAL_ROLES = frozenset(Role) - AGENCY_ROLES

cases = tables.cases.c


@dataclass(frozen=True)
class Scope:
    """The viewer's row scopes, one clause per node type."""

    case: ColumnElement[bool]
    borrower: ColumnElement[bool]
    debt: ColumnElement[bool]
    staff: ColumnElement[bool]
    agency: ColumnElement[bool]

    @property
    def every_case(self) -> bool:
        """Whether the viewer sees every case: the whole book, over which figures against the
        loan book apply."""
        return self.case is true()


def _any(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    if not clauses:
        return false()
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def _own_active_agency(viewer: Staff) -> Select[tuple[int]]:
    """Returns a subquery of the viewer's agency id, empty unless that agency is active."""
    a = tables.agencies.c
    # Never correlated: the agencies scope itself filters ``agencies``.
    return select(a.id).where(a.id == viewer.agency_id, a.active.is_(True)).correlate(None)


def legal_cases_clause() -> ColumnElement[bool]:
    """The legal team's cases: in stage LEGAL, and those written off after an approved referral
    (a case written off from LEGAL stays the legal team's to pursue)."""
    lr = tables.legal_referrals.c
    referred = exists().where(lr.case_id == cases.id, lr.status == ReferralStatus.APPROVED.value)
    return or_(
        cases.stage == CaseStage.LEGAL.value,
        and_(cases.stage == CaseStage.WRITTEN_OFF.value, referred),
    )


def case_clause(viewer: Staff, now: datetime) -> ColumnElement[bool]:
    """Returns the WHERE clause over ``cases`` for the cases the viewer may see at ``now``."""
    roles = set(viewer.roles)
    if roles & _ALL_CASES:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if Role.COLLECTOR in roles and viewer.id is not None:
        clauses.append(cases.assignee_id == viewer.id)
    if Role.TEAM_LEAD in roles and viewer.team:
        team = select(tables.staff.c.id).where(tables.staff.c.team == viewer.team)
        clauses.append(cases.assignee_id.in_(team))
    if roles & AGENCY_ROLES and viewer.agency_id is not None:
        clauses.append(
            and_(
                cases.agency_id.in_(_own_active_agency(viewer)),
                current_placement_clause(now),
            )
        )
    if Role.LEGAL in roles:
        clauses.append(legal_cases_clause())
    return _any(clauses)


def scope_for(viewer: Staff, now: datetime) -> Scope:
    """Returns every row scope of the viewer at ``now`` (the request's instant)."""
    case = case_clause(viewer, now)
    roles = set(viewer.roles)
    if case is true():
        borrower: ColumnElement[bool] = true()
        debt: ColumnElement[bool] = true()
    else:
        visible = select(cases.id).where(case)
        borrower = tables.borrowers.c.id.in_(select(cases.borrower_id).where(case))
        debt = tables.debts.c.case_id.in_(visible)
    staff_clauses: list[ColumnElement[bool]] = []
    agency_clauses: list[ColumnElement[bool]] = []
    if roles & _INTERNAL_ROLES:
        staff_clauses.append(true())
        agency_clauses.append(true())
    elif roles & AGENCY_ROLES and viewer.agency_id is not None:
        own = _own_active_agency(viewer)
        staff_clauses.append(tables.staff.c.agency_id.in_(own))
        agency_clauses.append(tables.agencies.c.id.in_(own))
    return Scope(case, borrower, debt, _any(staff_clauses), _any(agency_clauses))


def assignable_staff_clause(viewer: Staff) -> ColumnElement[bool]:
    """Returns who the viewer may assign cases to: team leads only within their own team."""
    roles = set(viewer.roles)
    if roles & {Role.ADMIN, Role.MANAGER}:
        return true()
    if Role.TEAM_LEAD in roles and viewer.team:
        return tables.staff.c.team == viewer.team
    return false()


def allocation_clause(viewer: Staff, now: datetime) -> ColumnElement[bool]:
    """Returns the cases the viewer may hand out by allocation (``case:allocate`` decides who may
    allocate at all): those they see, and for a team lead, whose scope holds only cases assigned
    to their team, also the unassigned pool — allocation hands it to their own team only
    (``assignable_staff_clause``), after which those cases are in their scope."""
    clause = case_clause(viewer, now)
    if Role.TEAM_LEAD in set(viewer.roles) and viewer.team:
        pool = and_(cases.assignee_id.is_(None), cases.agency_id.is_(None))
        return or_(clause, pool)
    return clause


def scorecard_rows(viewer: Staff, level: ScorecardLevel) -> ScorecardRows | None:
    """Returns whose scorecards of ``level`` the viewer sees (None: none at all), the widest
    their roles allow: everyone's for the roles that see every case; a team lead their team's
    collectors and their team (no agency's); an agency manager their agency and its staff (no
    team's); a collector or an agency agent their own collector row only. What each row counts
    is further limited to the cases the viewer sees (the case scope)."""
    roles = set(viewer.roles)
    if roles & _ALL_CASES:
        return ScorecardRows()
    if Role.TEAM_LEAD in roles and viewer.team:
        team_levels = (ScorecardLevel.COLLECTOR, ScorecardLevel.TEAM)
        return ScorecardRows(team=viewer.team) if level in team_levels else None
    if Role.AGENCY_MANAGER in roles and viewer.agency_id is not None:
        agency_levels = (ScorecardLevel.COLLECTOR, ScorecardLevel.AGENCY)
        return ScorecardRows(agency_id=viewer.agency_id) if level in agency_levels else None
    own = roles & {Role.COLLECTOR, Role.AGENCY_AGENT}
    if own and viewer.id is not None and level is ScorecardLevel.COLLECTOR:
        return ScorecardRows(staff_id=viewer.id)
    return None
