"""The demo's people who work cases: agencies, staff logins, and who holds which cases.

Kept apart from the seed itself so that ``DEMO_LOGINS`` (which the server prints) and the
activity modules share one list without importing Faker.
"""

from __future__ import annotations

from decimal import Decimal

from domain.staff.model import Role

COLLECTOR_CAPACITY = 400

# name, commission rate, placement days, active, tail days (commission after a recall)
AGENCIES = (
    ("Acme Recovery", Decimal("0.1800"), 90, True, 30),
    ("Zenith Collections", Decimal("0.1500"), 60, True, 14),
    ("Dormant Partners", Decimal("0.2000"), 90, False, 0),
)
AGENCY_IDS = {spec[0]: n for n, spec in enumerate(AGENCIES, start=1)}

# login, roles, team, agency, capacity, active
STAFF: tuple[tuple[str, tuple[Role, ...], str | None, str | None, int, bool], ...] = (
    ("admin", (Role.ADMIN,), None, None, 0, True),
    ("manager", (Role.MANAGER,), None, None, 0, True),
    ("lead1", (Role.TEAM_LEAD,), "East", None, COLLECTOR_CAPACITY, True),
    ("collector1", (Role.COLLECTOR,), "East", None, COLLECTOR_CAPACITY, True),
    ("collector2", (Role.COLLECTOR,), "East", None, COLLECTOR_CAPACITY, True),
    ("collector3", (Role.COLLECTOR,), "West", None, COLLECTOR_CAPACITY, True),
    ("legal1", (Role.LEGAL,), None, None, 0, True),
    ("auditor1", (Role.AUDITOR,), None, None, 0, True),
    ("acme.agent1", (Role.AGENCY_AGENT,), None, "Acme Recovery", 0, True),
    ("acme.manager", (Role.AGENCY_MANAGER,), None, "Acme Recovery", 0, True),
    ("zenith.agent1", (Role.AGENCY_AGENT,), None, "Zenith Collections", 0, True),
    ("core.banking", (Role.INTEGRATION,), None, None, 0, True),
    ("collector9", (Role.COLLECTOR,), "West", None, COLLECTOR_CAPACITY, False),
)
STAFF_IDS = {spec[0]: n for n, spec in enumerate(STAFF, start=1)}
# Logins that are systems, not people: their display name is fixed, not drawn.
SYSTEM_NAMES = {"core.banking": "核心银行系统"}


def _describe(roles: tuple[str, ...], team: str | None, agency: str | None) -> str:
    """Returns "collector, team East"-style text for the login table."""
    where = [f"team {team}"] if team else [f"agency {agency}"] if agency else []
    return ", ".join([*roles, *where])


# (login, roles and team or agency) of the contract's logins, in CONTRACT.md order.
DEMO_LOGINS: tuple[tuple[str, str], ...] = tuple(
    (login, _describe(roles, team, agency))
    for login, roles, team, agency, _capacity, active in STAFF
    if active
)

# Collectors and the relative share of the worked cases each is given (collector1, the login
# the guides use, holds the most).
COLLECTORS = {"collector1": 40, "collector2": 30, "collector3": 24, "lead1": 6}
# Who at each agency works its cases (repeated: picked more often).
AGENCY_STAFF = {
    "Acme Recovery": ("acme.agent1",) * 3 + ("acme.manager",),
    "Zenith Collections": ("zenith.agent1",),
}
POOL = "pool"
