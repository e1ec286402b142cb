"""The default role policy lives in one place: migration 0002 seeds it into ``casbin_rule``
(frozen there), and the enforcer reads it from the database. These tests read it back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.enforcer import Authorizer
from store import tables
from store.db import create_engine
from store.migrate import alembic_config, upgrade

READ = ["agency:read", "case:read", "staff:read"]
# The collection work's grants (migration 0006).
CONTACT = ["contact:log", "contact:make"]
WORK = [*CONTACT, "contact_point:manage", "promise:record"]
PAYMENTS = ["payment:post", "payment:reverse"]
CONSENT = ["contact_point:consent"]
# The daily cycle's grants (migration 0007).
CYCLE_READ = ["warning:read"]
CYCLE_WORK = [*CYCLE_READ, "warning:handle", "complaint:file", "borrower:flag"]
MANAGER_CYCLE = [
    *CYCLE_WORK,
    "signal:post",
    "complaint:resolve",
    "borrower:unflag",
    "decision:read",
]

# Debt handling's grants (migration 0008).
PROPOSE = ["restructuring:propose"]
APPROVE = ["restructuring:approve"]
RULE_CHANGES = ["rule_change:propose", "rule_change:approve", "rule_change:read"]

# Running it for real (migration 0012): API clients and legal holds.
CLIENTS = ["api_client:manage", "api_client:read"]
HOLDS = ["legal_hold:manage", "legal_hold:read"]

# Strategies' and notices' grants (migration 0009).
NOTICES = ["notice:read"]
WORKS_TASKS = ["notice:read", "task:complete"]


def reveal(*fields: str) -> list[str]:
    return [f"borrower:reveal:{field}" for field in fields]


# What each role holds in a freshly migrated database (docs/API.md describes the same grid).
EXPECTED = {
    "admin": [
        *READ,
        "audit:read",
        "case:assign",
        "case:place",
        "case:recall",
        "case:hold",
        "role:grant",
        "case:allocate",
        *CYCLE_READ,
        "decision:read",
        *RULE_CHANGES,
        "strategy:read",
        *NOTICES,
        "notice:record_delivery",
        "report:read",
        "scorecard:read",
        *CLIENTS,
        *HOLDS,
    ],
    "manager": [
        *READ,
        *reveal("address", "email", "national_id", "phone"),
        "case:assign",
        "case:place",
        "case:recall",
        "case:hold",
        "case:allocate",
        *WORK,
        *PAYMENTS,
        *CONSENT,
        *MANAGER_CYCLE,
        *PROPOSE,
        *APPROVE,
        "legal:refer",
        "legal:approve",
        "legal:act",
        "evidence:generate",
        "case:write_off",
        *RULE_CHANGES,
        "strategy:read",
        *WORKS_TASKS,
        "notice:record_delivery",
        "report:read",
        "scorecard:read",
        *HOLDS,
    ],
    "team_lead": [
        *READ,
        *reveal("email", "phone"),
        "case:assign",
        "case:allocate",
        *WORK,
        "worklist:read",
        *CYCLE_WORK,
        *PROPOSE,
        *APPROVE,
        "legal:refer",
        "strategy:read",
        *WORKS_TASKS,
        "report:read",
        "scorecard:read",
    ],
    "collector": [
        *READ,
        *reveal("email", "phone"),
        *WORK,
        "worklist:read",
        *CYCLE_WORK,
        *PROPOSE,
        "legal:refer",
        *WORKS_TASKS,
        "scorecard:read",
    ],
    "legal": [
        *READ,
        *reveal("address", "email", "employer", "income", "national_id", "phone"),
        *CONTACT,
        *CYCLE_READ,
        "complaint:file",
        "borrower:flag",
        "legal:act",
        "evidence:generate",
        *WORKS_TASKS,
        *HOLDS,
    ],
    "auditor": [
        *READ,
        "audit:read",
        *CYCLE_READ,
        "decision:read",
        "rule_change:read",
        "strategy:read",
        *NOTICES,
        "report:read",
        "scorecard:read",
        "api_client:read",
        "legal_hold:read",
    ],
    "agency_manager": [
        *READ,
        *reveal("phone"),
        *WORK,
        "worklist:read",
        *CYCLE_WORK,
        *PROPOSE,
        *WORKS_TASKS,
        "report:read",
        "scorecard:read",
        *CLIENTS,
    ],
    "agency_agent": [
        *READ,
        *reveal("phone"),
        *WORK,
        "worklist:read",
        *CYCLE_WORK,
        *PROPOSE,
        *WORKS_TASKS,
        "scorecard:read",
    ],
    "integration": [
        *READ,
        "contact:log",
        "contact_point:manage",
        *PAYMENTS,
        *CONSENT,
        *CYCLE_READ,
        "signal:post",
        "complaint:file",
        "borrower:flag",
        "decision:read",
        *NOTICES,
        "notice:record_delivery",
    ],
}


@pytest.fixture
async def migrated_to_0002(empty_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A brand-new database migrated up to revision 0002 only."""
    engine = create_engine(empty_database_url)
    await upgrade(engine, "0002")
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_revision_0002_seeds_exactly_its_frozen_policy(migrated_to_0002: AsyncEngine) -> None:
    frozen = ScriptDirectory.from_config(alembic_config()).get_revision("0002").module
    r = tables.casbin_rule.c
    async with migrated_to_0002.connect() as conn:
        rows = (
            await conn.execute(select(r.ptype, r.v0, r.v1, r.v2, r.v3, r.v4, r.v5).order_by(r.id))
        ).all()
    assert [(v0, v1, v2) for _p, v0, v1, v2, *_ in rows] == frozen.DEFAULT_POLICY
    assert {(p, v3, v4, v5) for p, _v0, _v1, _v2, v3, v4, v5 in rows} == {("p", None, None, None)}
    assert len(rows) == len(set(rows)) == 50


async def test_each_role_holds_exactly_its_grants_at_the_newest_revision(
    migrated: AsyncEngine,
) -> None:
    authorizer = await Authorizer.load(migrated)
    held = {role: authorizer.permissions_of([role]) for role in EXPECTED}
    assert held == {role: sorted(grants) for role, grants in EXPECTED.items()}
    roles = {rule[0] for rule in authorizer.enforcer.get_policy()}
    assert roles == set(EXPECTED)
    assert authorizer.allows(["legal"], "borrower:reveal:income")
    assert not authorizer.allows(["collector"], "borrower:reveal:national_id")
    assert not authorizer.allows(["nobody"], "case:read")
