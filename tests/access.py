"""Who each demo login is and what it may see, written here from the documented rules
(docs/API.md: roles, permissions, row scopes, masking), never taken from ``authz/``.

The row scopes are compiled to plain SQL over ``store.tables`` so that a test can compute the
exact set of objects a login should reach and compare it with what the API returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store import tables
from tests.helpers import agency_cases_rule

c, s, a, b, d = (
    tables.cases.c,
    tables.staff.c,
    tables.agencies.c,
    tables.borrowers.c,
    tables.debts.c,
)

READ = frozenset({"case:read", "staff:read", "agency:read"})
MANAGE = frozenset({"case:assign", "case:place", "case:recall", "case:hold"})


def reveal(*fields: str) -> frozenset[str]:
    return frozenset(f"borrower:reveal:{name}" for name in fields)


@dataclass(frozen=True)
class Role:
    """What one login is: its roles, team or agency, permissions and case scope."""

    roles: tuple[str, ...]
    team: str | None
    agency: str | None
    permissions: frozenset[str]
    # all | own (assigned to me) | team (assigned to my team) | agency (placed with mine) | legal
    cases: str

    @property
    def internal(self) -> bool:
        return self.agency is None

    @property
    def sees_all_cases(self) -> bool:
        return self.cases == "all"

    @property
    def clear_in_legal_proceedings(self) -> bool:
        """Sees a borrower in clear while one of their cases is in stage LEGAL."""
        return "legal" in self.roles

    def holds(self, roles: frozenset[str]) -> bool:
        return bool(set(self.roles) & roles)


# The collection work's permissions (docs/API.md, "Roles and permissions").
MAKE_CONTACT = frozenset({"contact:make", "contact:log"})
WORK = MAKE_CONTACT | {"contact_point:manage", "promise:record"}
PAYMENTS = frozenset({"payment:post", "payment:reverse"})
# Lifting an opt-out or an invalid mark, recording consent: not the agents the rules constrain.
CONSENT = frozenset({"contact_point:consent"})
# The daily cycle's (migration 0007): warnings, complaints, flags, signals, decisions.
CYCLE_READ = frozenset({"warning:read"})
CYCLE_WORK = CYCLE_READ | {"warning:handle", "complaint:file", "borrower:flag"}
MANAGER_CYCLE = CYCLE_WORK | {
    "signal:post",
    "complaint:resolve",
    "borrower:unflag",
    "decision:read",
}
# Debt handling's (migration 0008): restructurings, legal escalation, write-off, rule changes.
PROPOSE = frozenset({"restructuring:propose"})
RULE_CHANGES = frozenset({"rule_change:propose", "rule_change:approve", "rule_change:read"})
MANAGER_DEBT = PROPOSE | {
    "restructuring:approve",
    "legal:refer",
    "legal:approve",
    "legal:act",
    "evidence:generate",
    "case:write_off",
}
# Strategies' and notices' (migration 0009).
STRATEGY_READ = frozenset({"strategy:read"})
NOTICE_READ = frozenset({"notice:read"})
TASKS = NOTICE_READ | {"task:complete"}
RECEIPTS = frozenset({"notice:record_delivery"})
# Reporting's (migration 0010).
REPORTS = frozenset({"report:read", "scorecard:read"})
SCORECARD = frozenset({"scorecard:read"})
# API clients of partner agencies (migration 0012).
API_CLIENTS = frozenset({"api_client:manage", "api_client:read"})
# The data life cycle's (migration 0012): legal holds placed and released, and read.
HOLDS = frozenset({"legal_hold:manage", "legal_hold:read"})
HOLDS_READ = frozenset({"legal_hold:read"})
_COLLECTOR = (
    READ | reveal("phone", "email") | WORK | {"worklist:read"} | CYCLE_WORK | PROPOSE | TASKS
) | {"legal:refer"}
_AGENCY = READ | reveal("phone") | WORK | {"worklist:read"} | CYCLE_WORK | PROPOSE | TASKS

# Every demo login (CONTRACT.md), in the contract's order.
LOGINS: dict[str, Role] = {
    "admin": Role(
        ("admin",),
        None,
        None,
        READ
        | MANAGE
        | CYCLE_READ
        | RULE_CHANGES
        | STRATEGY_READ
        | NOTICE_READ
        | RECEIPTS
        | REPORTS
        | HOLDS
        | API_CLIENTS
        | {"role:grant", "audit:read", "case:allocate", "decision:read"},
        "all",
    ),
    "manager": Role(
        ("manager",),
        None,
        None,
        READ
        | MANAGE
        | reveal("phone", "email", "address", "national_id")
        | WORK
        | PAYMENTS
        | CONSENT
        | MANAGER_CYCLE
        | MANAGER_DEBT
        | RULE_CHANGES
        | STRATEGY_READ
        | TASKS
        | RECEIPTS
        | REPORTS
        | HOLDS
        | {"case:allocate"},
        "all",
    ),
    "lead1": Role(
        ("team_lead",),
        "East",
        None,
        _COLLECTOR
        | STRATEGY_READ
        | REPORTS
        | {"case:assign", "case:allocate", "restructuring:approve"},
        "team",
    ),
    "collector1": Role(("collector",), "East", None, _COLLECTOR | SCORECARD, "own"),
    "collector2": Role(("collector",), "East", None, _COLLECTOR | SCORECARD, "own"),
    "collector3": Role(("collector",), "West", None, _COLLECTOR | SCORECARD, "own"),
    "legal1": Role(
        ("legal",),
        None,
        None,
        READ
        | reveal("national_id", "phone", "email", "address", "employer", "income")
        | MAKE_CONTACT
        | CYCLE_READ
        | TASKS
        | HOLDS
        | {"complaint:file", "borrower:flag", "legal:act", "evidence:generate"},
        "legal",
    ),
    "auditor1": Role(
        ("auditor",),
        None,
        None,
        READ
        | CYCLE_READ
        | STRATEGY_READ
        | NOTICE_READ
        | REPORTS
        | HOLDS_READ
        | {"audit:read", "decision:read", "rule_change:read", "api_client:read"},
        "all",
    ),
    "acme.agent1": Role(("agency_agent",), None, "Acme Recovery", _AGENCY | SCORECARD, "agency"),
    "acme.manager": Role(
        ("agency_manager",), None, "Acme Recovery", _AGENCY | REPORTS | API_CLIENTS, "agency"
    ),
    "zenith.agent1": Role(
        ("agency_agent",), None, "Zenith Collections", _AGENCY | SCORECARD, "agency"
    ),
    "core.banking": Role(
        ("integration",),
        None,
        None,
        READ
        | PAYMENTS
        | CONSENT
        | CYCLE_READ
        | NOTICE_READ
        | RECEIPTS
        | {
            "contact:log",
            "contact_point:manage",
            "signal:post",
            "complaint:file",
            "borrower:flag",
            "decision:read",
        },
        "all",
    ),
}
ROLE_NAMES = frozenset(name for role in LOGINS.values() for name in role.roles)


def masked(value: str) -> str:
    """First 3 + **** + last 4, as every role without a clear rule sees IDs and phones."""
    return f"{value[:3]}****{value[-4:]}"


def area(city: str, district: str) -> str:
    """An address masked to its area: Chinese names run together, Latin ones take a space."""
    gap = " " if city and district and city[-1].isascii() and district[0].isascii() else ""
    return f"{city}{gap}{district}****"


def masks(row: Any) -> dict[str, str]:
    """How a borrower's confidential fields look to every role without a clear rule."""
    local, _, domain = row.email.partition("@")
    return {
        "nationalId": masked(row.national_id),
        "phone": masked(row.phone),
        "email": f"{local[0]}***@{domain}",
        "address": area(row.city, row.district),
        "employer": "****",
        "income": "****",
    }


def clear(row: Any) -> dict[str, str]:
    """A borrower's confidential text fields in clear."""
    return {
        "nationalId": row.national_id,
        "phone": row.phone,
        "email": row.email,
        "address": row.address,
        "employer": row.employer,
    }


# ---- Scopes in plain SQL -----------------------------------------------------------------------


async def staff_row(conn: AsyncConnection, login: str) -> Any:
    return (await conn.execute(select(tables.staff).where(s.login == login))).one()


async def case_rule(conn: AsyncConnection, login: str) -> ColumnElement[bool]:
    """The WHERE clause over cases selecting what ``login`` may see."""
    role, me = LOGINS[login], await staff_row(conn, login)
    if role.cases == "all":
        return true()
    if role.cases == "own":
        own: ColumnElement[bool] = c.assignee_id == me.id
        return own
    if role.cases == "team":
        return c.assignee_id.in_(select(s.id).where(s.team == role.team))
    if role.cases == "legal":
        # In LEGAL, or written off after an approved referral (still the legal team's).
        lr = tables.legal_referrals.c
        referred = exists().where(lr.case_id == c.id, lr.status == "APPROVED")
        return or_(c.stage == "LEGAL", and_(c.stage == "WRITTEN_OFF", referred))
    return agency_cases_rule(me.agency_id)


def staff_rule(login: str) -> ColumnElement[bool]:
    role = LOGINS[login]
    if role.internal:
        return true()
    own = select(a.id).where(a.name == role.agency, a.active.is_(True))
    return s.agency_id.in_(own)


def agency_rule(login: str) -> ColumnElement[bool]:
    role = LOGINS[login]
    return true() if role.internal else (a.name == role.agency) & a.active.is_(True)


async def visible_ids(engine: AsyncEngine, login: str) -> dict[str, set[int]]:
    """The ids of every node type the login may see, from the rules above."""
    async with engine.connect() as conn:
        cases = set(
            (await conn.execute(select(c.id).where(await case_rule(conn, login)))).scalars()
        )
        borrowers = set(
            (await conn.execute(select(c.borrower_id).where(c.id.in_(cases)))).scalars()
        )
        debts = set((await conn.execute(select(d.id).where(d.case_id.in_(cases)))).scalars())
        staff = set((await conn.execute(select(s.id).where(staff_rule(login)))).scalars())
        agencies = set((await conn.execute(select(a.id).where(agency_rule(login)))).scalars())
    return {
        "Case": cases,
        "Borrower": borrowers,
        "Debt": debts,
        "Staff": staff,
        "Agency": agencies,
    }


async def in_legal_proceedings(conn: AsyncConnection, borrower_id: int) -> bool:
    """Whether one of the borrower's cases is in stage LEGAL."""
    stmt = select(c.id).where(c.borrower_id == borrower_id, c.stage == "LEGAL").limit(1)
    return (await conn.execute(stmt)).first() is not None
